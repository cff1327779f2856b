"""Rule languages of the pure domain: CertLogic (EU DCC business rules, spec 1.3.3) and JsonLogic.

``certlogic`` evaluates and compiles CertLogic expressions, ``validation`` reports what is wrong with
one, ``jsonlogic`` evaluates plain JsonLogic (jsonlogic.com). Both languages raise ``RuleError`` from
``errors``; ``values`` and ``jsvalues`` hold what the two share (JSON value access, JavaScript's
equality and conversions).
"""
