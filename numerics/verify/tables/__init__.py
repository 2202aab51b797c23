"""Tables generated from code: one builder module per table, renderers for md/rst/latex/csv/json.

A *table builder* (:class:`~numerics.verify.tables.base.TableSpec`) declares the claims it documents, the
modules it needs and a ``build(context) -> Table`` function.  Builder modules register themselves
on import; :func:`~numerics.verify.tables.base.table_registry` imports every module of this package, so a
new builder is picked up without editing any list.  ``unlearnstab table`` and the docs site are
views of that registry.
"""
