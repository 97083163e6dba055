"""REST for treatment applications (API.md "Treatment applications"): create (hospital), read (scoped),
decisions for the stage the user's role owns, resubmission and supporting documents."""
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apps.core.exceptions import ApplicationError
from apps.core.permissions import IsBureau, IsHospital
from apps.applications import selectors, services
from apps.applications.models import Application, ApplicationDocument, ApplicationReview
from apps.core.masking import mask_card_number, mask_id_number, mask_phone
from apps.policies.models import InsuranceType


# --- input shapes ---------------------------------------------------------------------------------------------

class PatientInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    id_number = serializers.CharField(max_length=18, min_length=18)
    insurance_type = serializers.ChoiceField(choices=InsuranceType.choices)
    insured_region = serializers.RegexField(r"^\d{6}$", max_length=6)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    card_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    employer = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    sex = serializers.ChoiceField(choices=["male", "female"], required=False, allow_null=True)
    age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=150)


class ApplicationInputSerializer(serializers.Serializer):
    patient = PatientInputSerializer()
    diagnosis_code = serializers.CharField(max_length=16)
    diagnosis_name = serializers.CharField(max_length=128)
    generic_name = serializers.CharField(max_length=128)
    dosage_form = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    manufacturer = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    physician_code = serializers.CharField(max_length=20)
    pharmacy_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    usage = serializers.CharField(max_length=128)
    course_days = serializers.IntegerField(min_value=1, max_value=3650)
    first_use_on = serializers.DateField(required=False, allow_null=True)


class DecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject", "return"])
    opinion = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    valid_until = serializers.DateField(required=False, allow_null=True)


class ResubmitInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DocumentInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    kind = serializers.ChoiceField(choices=ApplicationDocument.Kind.choices, default=ApplicationDocument.Kind.MEDICAL_RECORD)


# --- output shapes --------------------------------------------------------------------------------------------

class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SerializerMethodField()
    stage_display = serializers.CharField(source="get_stage_display")
    decision_display = serializers.CharField(source="get_decision_display")

    class Meta:
        model = ApplicationReview
        fields = ["stage", "stage_display", "decision", "decision_display", "opinion", "reviewer", "decided_at",
                  "due_date", "overdue", "valid_until"]

    def get_reviewer(self, obj) -> str:
        return obj.reviewer.get_full_name() or obj.reviewer.username


class DocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationDocument
        fields = ["id", "kind", "original_name", "content_type", "size", "sha256", "uploaded_at", "url"]

    def get_url(self, obj) -> str:
        return f"/api/v1/applications/{obj.application_id}/documents/{obj.pk}/"


class PatientOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    id_number = serializers.SerializerMethodField(help_text="masked (R-SEC-2)")
    sex = serializers.CharField()
    birth_date = serializers.DateField()
    insurance_type = serializers.CharField()
    insured_region = serializers.CharField(source="insured_region.code")
    phone = serializers.SerializerMethodField(help_text="masked (R-SEC-2)")
    card_number = serializers.SerializerMethodField(help_text="masked like the ID number (R-SEC-2)")
    employer = serializers.CharField()

    def get_id_number(self, obj) -> str:
        return mask_id_number(obj.id_number)

    def get_card_number(self, obj) -> str:
        return mask_card_number(obj.card_number)

    def get_phone(self, obj) -> str:
        return mask_phone(obj.phone)


class ApplicationListSerializer(serializers.ModelSerializer):
    patient = PatientOutputSerializer(source="person")
    institution = serializers.CharField(source="institution.code")
    pharmacy = serializers.CharField(source="pharmacy.code", allow_null=True, default=None)
    physician = serializers.CharField(source="physician.code")
    therapeutic_area = serializers.CharField(source="therapeutic_area.code")

    class Meta:
        model = Application
        fields = ["id", "number", "status", "current_stage", "stage_due_date", "stage_due_provisional", "patient",
                  "institution",
                  "pharmacy", "physician", "generic_name", "dosage_form", "manufacturer", "kind", "extends",
                  "therapeutic_area", "diagnosis_code", "diagnosis_name",
                  "usage", "course_days", "first_use_on", "submitted_at", "applied_on", "valid_from",
                  "valid_until", "terminated_on", "termination_reason"]


class ApplicationDetailSerializer(ApplicationListSerializer):
    reviews = ReviewSerializer(many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)
    review_stages = serializers.ListField(child=serializers.CharField())

    class Meta(ApplicationListSerializer.Meta):
        fields = [*ApplicationListSerializer.Meta.fields, "review_stages", "reviews", "documents"]


#: what a pharmacy is not shown of an application (R-SEC-1): the same shape, these emptied
_PHARMACY_HIDDEN = {"diagnosis_code": "", "diagnosis_name": "", "usage": "", "termination_reason": "",
                    "reviews": [], "documents": []}
_PHARMACY_HIDDEN_PATIENT = {"phone": "", "employer": "", "card_number": ""}


def _for_viewer(data: dict, user) -> dict:
    """A pharmacy's view of an application: masked, without diagnosis, reviews or documents."""
    if not selectors.pharmacy_summary_only(user):
        return data
    data = dict(data)
    for key, value in _PHARMACY_HIDDEN.items():
        if key in data:
            data[key] = value
    data["patient"] = {**data["patient"], **_PHARMACY_HIDDEN_PATIENT}
    return data


def _detail(application: Application, user=None) -> dict:
    application = selectors._base().prefetch_related("reviews__reviewer", "documents").get(pk=application.pk)
    return _for_viewer(ApplicationDetailSerializer(application).data, user)


# --- views ------------------------------------------------------------------------------------------------------

class ApplicationListCreateView(GenericAPIView):
    """GET: the applications the user may see (R-SEC-1), filters ``status``, ``stage``, ``generic_name``,
    ``number``. POST: a hospital submits an application (R-APP-2..8)."""

    serializer_class = ApplicationListSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsHospital()]
        return [IsAuthenticated()]

    def get_queryset(self):
        qs = selectors.applications_visible_to(self.request.user)
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("stage"):
            qs = qs.filter(current_stage=params["stage"])
        if params.get("generic_name"):
            qs = qs.filter(generic_name=params["generic_name"])
        if params.get("number"):
            qs = qs.filter(number=params["number"])
        return qs.order_by("-submitted_at", "-id")

    @extend_schema(operation_id="applications_list", responses=ApplicationListSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        rows = [_for_viewer(row, request.user) for row in ApplicationListSerializer(page, many=True).data]
        return self.get_paginated_response(rows)

    @extend_schema(request=ApplicationInputSerializer, responses={201: ApplicationDetailSerializer})
    def post(self, request):
        data = ApplicationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_submit(actor=request.user, now=timezone.now(), **data.validated_data)
        return Response(_detail(application), status=status.HTTP_201_CREATED)


class ApplicationDetailView(GenericAPIView):
    serializer_class = ApplicationDetailSerializer
    queryset = Application.objects.none()

    def get(self, request, pk):
        return Response(_detail(selectors.application_get_for(request.user, pk), request.user))


class ApplicationDecisionView(GenericAPIView):
    """The current stage's decision, for a user whose role owns the stage (R-APP-4): 404 outside the user's
    scope, 403 for a role that does not own the stage."""

    serializer_class = DecisionInputSerializer

    @extend_schema(request=DecisionInputSerializer, responses={201: ApplicationDetailSerializer})
    def post(self, request, pk):
        application = selectors.application_get_for(request.user, pk)
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_decide(application=application, actor=request.user, now=timezone.now(),
                                                  **data.validated_data)
        return Response(_detail(application), status=status.HTTP_201_CREATED)


class ApplicationResubmitView(GenericAPIView):
    serializer_class = ResubmitInputSerializer
    permission_classes = [IsHospital]

    @extend_schema(request=ResubmitInputSerializer, responses={200: ApplicationDetailSerializer})
    def post(self, request, pk):
        application = selectors.application_get_for(request.user, pk)
        data = ResubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_resubmit(application=application, actor=request.user, now=timezone.now(),
                                                    **data.validated_data)
        return Response(_detail(application))


class ApplicationDocumentListView(GenericAPIView):
    """GET the documents; POST (multipart ``file``, ``kind``) one PDF/JPEG/PNG, type sniffed by content."""

    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser, FormParser]
    queryset = ApplicationDocument.objects.none()

    @extend_schema(responses=DocumentSerializer(many=True))
    def get(self, request, pk):
        application = selectors.application_records_get_for(request.user, pk)
        return Response(DocumentSerializer(application.documents.all(), many=True).data)

    @extend_schema(request=DocumentInputSerializer, responses={201: DocumentSerializer})
    def post(self, request, pk):
        application = selectors.application_records_get_for(request.user, pk)
        data = DocumentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = services.application_document_add(application=application, actor=request.user,
                                                      uploaded_file=data.validated_data["file"],
                                                      kind=data.validated_data["kind"])
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class ApplicationDocumentFileView(GenericAPIView):
    """The document's file, to users who may see the application."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk, document_id):
        application = selectors.application_records_get_for(request.user, pk)
        document = application.documents.filter(pk=document_id).first()
        if document is None:
            raise Http404
        response = FileResponse(document.file.open("rb"), content_type=document.content_type,
                                filename=document.original_name)
        add_never_cache_headers(response)  # personal documents: never kept by a browser or proxy (R-SEC-2)
        return response


class ManufacturerSwitchInputSerializer(serializers.Serializer):
    to_manufacturer = serializers.CharField(max_length=128)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ManufacturerSwitchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_manufacturer = serializers.CharField()
    to_manufacturer = serializers.CharField()
    determined_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)


class ManufacturerSwitchView(GenericAPIView):
    """R-CAT-6: the responsible physician's account determines a manufacturer switch within the generic name and
    dosage form; it takes effect when the institution confirms it (``…/confirm/``)."""

    serializer_class = ManufacturerSwitchInputSerializer
    permission_classes = [IsHospital]

    @extend_schema(request=ManufacturerSwitchInputSerializer, responses={201: ManufacturerSwitchSerializer})
    def post(self, request, pk):
        application = selectors.application_get_for(request.user, pk)
        data = ManufacturerSwitchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        switch = services.manufacturer_switch_determine(application=application, actor=request.user,
                                                        now=timezone.now(), **data.validated_data)
        return Response(ManufacturerSwitchSerializer(switch).data, status=status.HTTP_201_CREATED)


class ManufacturerSwitchConfirmView(GenericAPIView):
    permission_classes = [IsHospital]
    serializer_class = ApplicationDetailSerializer

    @extend_schema(request=None, responses={200: ApplicationDetailSerializer})
    def post(self, request, pk, switch_id):
        application = selectors.application_get_for(request.user, pk)
        switch = get_object_or_404(application.manufacturer_switches, pk=switch_id)
        application = services.manufacturer_switch_confirm(switch=switch, actor=request.user, now=timezone.now())
        return Response(_detail(application))


class ExtensionInputSerializer(serializers.Serializer):
    opinion = serializers.CharField(help_text="the responsible physician's opinion")


class ApplicationExtensionView(GenericAPIView):
    """R-APP-11: within the last 60 days of an approval the hospital (the responsible physician's own account)
    files an extension; returns the new application (``kind``: ``extension``, ``extends``: the old id), waiting for
    the bureau's decision."""

    serializer_class = ExtensionInputSerializer
    permission_classes = [IsHospital]

    @extend_schema(request=ExtensionInputSerializer, responses={201: ApplicationDetailSerializer})
    def post(self, request, pk):
        application = selectors.application_get_for(request.user, pk)
        data = ExtensionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extension = services.application_extend(application=application, actor=request.user, now=timezone.now(),
                                                **data.validated_data)
        return Response(_detail(extension), status=status.HTTP_201_CREATED)


class OtherFundUseInputSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=18)
    period = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="YYYY-MM")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class OtherFundUseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    id_number = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    source = serializers.CharField()

    def get_id_number(self, obj) -> str:
        return mask_id_number(obj.person.id_number)

    def get_period(self, obj) -> str:
        return f"{obj.year}-{obj.month:02d}"


class OtherFundUseListCreateView(GenericAPIView):
    """R-PAY-3 step 4: the patients' other fund use per month (core insurance system), counted in the annual limit.
    Entered here by the bureau of the insured region, or imported monthly (``/api/v1/imports/other_fund_use/``)."""

    serializer_class = OtherFundUseSerializer
    permission_classes = [IsBureau]
    queryset = Application.objects.none()

    @extend_schema(responses=OtherFundUseSerializer(many=True))
    def get(self, request):
        qs = selectors.other_fund_uses_visible_to(request.user).order_by("-year", "-month", "person__name", "person_id")
        if request.query_params.get("id_number"):
            qs = qs.filter(person__id_number=request.query_params["id_number"].strip().upper())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OtherFundUseSerializer(page, many=True).data)

    @extend_schema(request=OtherFundUseInputSerializer, responses={201: OtherFundUseSerializer})
    def post(self, request):
        data = OtherFundUseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        person = selectors.persons_insured_under(request.user).filter(id_number=v["id_number"].strip().upper()).first()
        if person is None:
            raise ApplicationError("permission_denied", "只有参保地经办机构可以登记其他基金支付：本统筹区没有该参保人",
                                   status=403)
        year, month = (int(x) for x in v["period"].split("-"))
        row = services.other_fund_use_record(actor=request.user, person=person, year=year, month=month,
                                             amount=v["amount"], note=v["note"], now=timezone.now())
        return Response(OtherFundUseSerializer(row).data, status=status.HTTP_201_CREATED)
