"""The LTI 1.3 layer: the only package that imports pylti1p3."""
