"""Extension points of the applications app (see ``apps.core.hooks``)."""
from apps.core.hooks import Hook

#: R-PAY-3 step 4: lock the patients' year accumulators ``pairs`` = [(person_id, year), …] (in that order) for the
#: rest of the transaction, so that recording other fund use and a dispensing never both use the same remaining
#: cap. Answered by ``apps.prescriptions`` (which owns the accumulator).
patient_year_lock = Hook("patient_year_lock", single=True)
