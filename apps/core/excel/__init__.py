"""The Excel engine: one all-or-nothing import (preview, located errors, a digest that ties a confirmation to its
preview) and the template/export of the same layout, for any app. It lives in the kernel and imports no app: each
app *registers* its kinds.

Modules
-------
``xlsx``       the reader of the first sheet (``SheetReader``, python-calamine; R-SEC-4 package checks).
``bulk``       fast inserts: PostgreSQL ``COPY`` (``bulk_create`` elsewhere).
``engine``     the cell parsers (``text``, ``decimal``, ``ratio``, ``date``, ``yes_no``, ``choice``), ``Column``,
               ``ImportSpec`` (hooks), ``RegistrySpec`` (rows written through an app's services), ``build_plan``
               and ``run_import`` (plan → preview or write in one transaction → ``Outcome``).
``widgets``    the django-import-export resource built from a spec's columns (template and export).
``exporting``  ``export_workbook(kind=…, user=…, empty=…)`` and ``export_filename``.
``registry``   ``register(spec)``, ``get(kind)``, ``is_registered(kind)``, ``kinds()``.

The upload/confirm/status workflow (``ImportRun``, ``/api/v1/imports/<kind>/…``) is the catalogue's
(``apps.catalogue.services.import_run_create`` / ``import_run_execute``); it serves every registered kind.

Registering a new kind
----------------------
Declare the columns once — they drive the template headers, the export and the parsing — and register the spec in
the app's ``AppConfig.ready()``::

    # apps/procurement/resources.py
    from apps.core.excel import engine as imp
    from apps.core.excel.widgets import label_of

    H = {"code": "订单编号", "drug": "医保药品代码", "quantity": "数量", "status": "状态"}

    class OrderImportSpec(imp.ImportSpec):
        kind = "procurement_orders"      # URL segment: /api/v1/imports/procurement_orders/
        label = "采购订单"                # sheet title and file name
        model = PurchaseOrder
        columns = [
            imp.Column(H["code"], "code", imp.text(32)),
            imp.Column(H["drug"], "drug_id", imp.text(23), field="drug",
                       widget=ForeignKeyWidget(Drug, "code")),          # export shows the drug's code
            imp.Column(H["quantity"], "quantity", imp.decimal(0)),
            imp.Column(H["status"], "status", imp.choice(PurchaseOrder.Status, "状态"),
                       render=label_of(PurchaseOrder.Status)),
        ]

        def export_queryset(self, user):           # who may export what: the app's selector
            return orders_visible_to(user)

        def bind(self, ctx):                        # per run: close parsers over reference data
            drugs = ctx["drugs"] = dict(Drug.objects.values_list("code", "pk"))
            def parse_drug(value):
                if value not in drugs:
                    raise imp.CellError(f"未知药品代码“{value}”")
                return drugs[value]
            return [c.rebind(parse_drug) if c.attr == "drug_id" else c for c in self.columns]

        def check_row(self, values, ctx):           # row-level rules → (column header, Chinese reason)
            ...
        def check_create(self, row, ctx): ...       # rules needing the database (existing row: check_change)

        def write(self, plan, ctx):                 # plan.creates / plan.updates, inside one transaction;
            ...                                     # call the app's services, or bulk.insert_values + events

    ORDERS = OrderImportSpec()

    # apps/procurement/apps.py
    class ProcurementConfig(AppConfig):
        def ready(self):
            from apps.core.excel import registry
            from apps.procurement.resources import ORDERS

            registry.register(ORDERS)

Errors: raise ``engine.CellError("中文原因")`` from a parser, yield ``(header, message)`` from the ``check_*``
hooks, or raise ``engine.RowRefused(row.number, header, message)`` from ``write``; any of them means nothing is
written. A kind whose rows must obey a registry's lifecycle subclasses ``RegistrySpec`` and implements
``apply_create(row, ctx)`` / ``apply_change(row, ctx)`` with the app's services (each row is tried in a rolled-back
savepoint when planning, so the preview lists exactly what the services would refuse).
"""
