"""Development package: a meter simulator on real ptys, with profiles read from the corpus.

Used by the tests, ``scripts/demo``, ``scripts/bench`` and ``scripts/soak``. It is not part of the
integration (HACS installs only ``custom_components/dlms_meter``) and never imports
homeassistant.
"""
