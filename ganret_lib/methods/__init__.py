"""Methods built on the layers below: descriptors (`descriptors`), encoders (`encoders`),
AFA-SVR (`afa`), query variants (`variants`) and binary codes (`hashing`). Imports
ganret_lib.gan, .retrieval, .data and .core."""
