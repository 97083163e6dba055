"""R-PAY-5 over REST, for bureau users: manual claims (手工报销) and cross-region filings (异地就医备案)."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError
from apps.core.masking import mask_id_number
from apps.core.models import Region
from apps.core.permissions import IsBureau
from apps.prescriptions import selectors
from apps.prescriptions.api.serializers import (
    CrossRegionFilingIn, CrossRegionFilingOut, ManualClaimIn, ManualClaimOut, valid,
)
from apps.prescriptions.models import CrossRegionFiling, ManualClaim
from apps.prescriptions.services import claims


class IdNumberSearch(serializers.Serializer):
    id_number = serializers.CharField(max_length=18, min_length=15)


class ManualClaimListCreate(GenericAPIView):
    """R-PAY-5: the bureau records a manual claim from the invoice lines; computed by the R-PAY-3 engine under the
    insured region's policy on the invoice date, counting toward the patient's year."""

    permission_classes = [IsBureau]
    serializer_class = ManualClaimOut
    queryset = ManualClaim.objects.none()  # schema only

    @extend_schema(request=ManualClaimIn, responses={201: ManualClaimOut})
    def post(self, request):
        v = valid(ManualClaimIn, request.data)
        person = selectors.persons_visible_to(request.user).filter(id_number=v["id_number"].strip().upper()).first()
        if person is None:
            raise ApplicationError("invalid", "本统筹区没有该参保人", fields={"id_number": ["本统筹区没有该参保人"]})
        dispensing = None
        if v.get("dispensing") is not None:
            dispensing = selectors.dispensings_visible_to(request.user).filter(pk=v["dispensing"]).first()
            if dispensing is None:
                raise ApplicationError("invalid", "配药记录不存在", fields={"dispensing": ["不存在"]})
        claim = claims.manual_claim_record(
            user=request.user, person=person, invoice_no=v["invoice_no"], invoice_date=v["invoice_date"],
            provider_name=v["provider_name"], care_setting=v["care_setting"], dispensing=dispensing,
            now=timezone.now(),
            lines=[claims.ClaimLine(l["drug_code"], l["quantity"], l["unit_price"]) for l in v["lines"]])
        claim = selectors.manual_claims_visible_to(request.user).select_related("insured_region").get(pk=claim.pk)
        return Response(ManualClaimOut(claim).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ManualClaimOut(many=True))
    def get(self, request):
        qs = selectors.manual_claims_visible_to(request.user).select_related("insured_region")
        page = self.paginate_queryset(qs.order_by("-invoice_date", "-id"))
        return self.get_paginated_response(ManualClaimOut(page, many=True).data)


class ManualClaimSearch(GenericAPIView):
    """``POST /api/v1/manual-claims/search/`` ``{"id_number": …}``: one person's claims. An ID number travels in the
    body, never in a URL (where it would reach access logs and browser history: R-SEC-2)."""

    permission_classes = [IsBureau]
    serializer_class = ManualClaimOut
    queryset = ManualClaim.objects.none()  # schema only

    @extend_schema(request=IdNumberSearch, responses=ManualClaimOut(many=True))
    def post(self, request):
        v = valid(IdNumberSearch, request.data)
        qs = (selectors.manual_claims_visible_to(request.user).select_related("insured_region")
              .filter(person__id_number=v["id_number"].strip().upper()))
        page = self.paginate_queryset(qs.order_by("-invoice_date", "-id"))
        return self.get_paginated_response(ManualClaimOut(page, many=True).data)


class ManualClaimDetail(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses=ManualClaimOut)
    def get(self, request, pk):
        qs = selectors.manual_claims_visible_to(request.user).select_related("insured_region")
        return Response(ManualClaimOut(get_object_or_404(qs, pk=pk)).data)


class CrossRegionFilingListCreate(GenericAPIView):
    """R-PAY-5: the bureau of the patient's insured region grants a cross-region filing (异地就医备案) naming the
    treatment region; with direct settlement, dispensings there are paid under the insured region's policy. GET for
    both regions' bureaus."""

    permission_classes = [IsBureau]
    serializer_class = CrossRegionFilingOut
    queryset = CrossRegionFiling.objects.none()  # schema only

    @extend_schema(request=CrossRegionFilingIn, responses={201: CrossRegionFilingOut})
    def post(self, request):

        v = valid(CrossRegionFilingIn, request.data)
        # R-PAY-5: the insured region's bureau grants the filing, so the patient is one of its insured persons
        person = selectors.persons_visible_to(request.user).select_related("insured_region").filter(
            id_number=v["id_number"].strip().upper()).first()
        if person is None:
            raise ApplicationError("not_insured_region_bureau", "异地就医备案由参保地经办机构办理，本统筹区没有该参保人（R-PAY-5）",
                                   fields={"id_number": ["不是本统筹区参保人"]}, status=403)
        region = Region.objects.filter(code=v["treatment_region"].strip()).first()
        if region is None:
            raise ApplicationError("invalid", "就医地区划代码不存在", fields={"treatment_region": ["区划代码不存在"]})
        filing = claims.cross_region_filing_create(
            user=request.user, person=person, treatment_region=region, filing_no=v["filing_no"],
            valid_from=v["valid_from"], valid_until=v["valid_until"], direct_settlement=v["direct_settlement"])
        return Response(CrossRegionFilingOut(filing).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CrossRegionFilingOut(many=True))
    def get(self, request):
        qs = selectors.cross_region_filings_visible_to(request.user)
        page = self.paginate_queryset(qs.order_by("-valid_from", "-id"))
        return self.get_paginated_response(CrossRegionFilingOut(page, many=True).data)


class CrossRegionFilingSearch(GenericAPIView):
    """``POST /api/v1/cross-region-filings/search/`` ``{"id_number": …}``: one person's filings (the ID number in
    the body, never in a URL: R-SEC-2)."""

    permission_classes = [IsBureau]
    serializer_class = CrossRegionFilingOut
    queryset = CrossRegionFiling.objects.none()  # schema only

    @extend_schema(request=IdNumberSearch, responses=CrossRegionFilingOut(many=True))
    def post(self, request):
        v = valid(IdNumberSearch, request.data)
        qs = selectors.cross_region_filings_visible_to(request.user).filter(
            person__id_number=v["id_number"].strip().upper())
        page = self.paginate_queryset(qs.order_by("-valid_from", "-id"))
        return self.get_paginated_response(CrossRegionFilingOut(page, many=True).data)


class CrossRegionFilingDetail(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses=CrossRegionFilingOut)
    def get(self, request, pk):
        filing = get_object_or_404(selectors.cross_region_filings_visible_to(request.user), pk=pk)
        return Response(CrossRegionFilingOut(filing).data)


class BeyondCapReport(APIView):
    """R-PAY-6: per patient insured in the bureau's region, what the fund did not pay in the year because the annual
    limit was reached (hand-over to serious-illness insurance and medical assistance)."""

    permission_classes = [IsBureau]

    @extend_schema(parameters=[OpenApiParameter("year", int, description="calendar year, e.g. 2026")],
                   responses={200: dict})
    def get(self, request):
        try:
            year = int(request.query_params.get("year") or timezone.localdate().year)
        except ValueError:
            raise ApplicationError("invalid", "年度应为数字，如 2026", fields={"year": ["应为数字"]}) from None
        if not 1 <= year <= 9999:  # a year a date can hold (year -5 or 99999 was a 500 in the year lookup, R-SEC-4)
            raise ApplicationError("invalid", "年度应在 1–9999 之间，如 2026", fields={"year": ["超出范围"]})
        rows = selectors.beyond_cap_by_patient(user=request.user, year=year)
        return Response({"year": year, "results": [
            {"name": r.person.name, "id_number": mask_id_number(r.person.id_number),
             "insured_region": r.person.insured_region.code if r.person.insured_region_id else "",
             "fund_payment": str(r.fund_payment), "beyond_cap": str(r.beyond_cap)} for r in rows]})
