"""A small built-in LTI 1.3 platform, so the tool can be tried (and tested) without an LMS."""
