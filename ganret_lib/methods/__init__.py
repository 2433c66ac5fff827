"""Methods built on the layers below: descriptors (`descriptors`), encoders (`encoders`) and
AFA-SVR (`afa`). Imports ganret_lib.gan, .retrieval, .data and .core."""
