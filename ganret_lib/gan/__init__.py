"""GANs: the DCGAN networks (`models`), the losses (`losses`), DCGAN training through the
library's loop (`dcgan`), sample quality and its feature network (`quality`), and the
low-dimensional experiments of chapter 2 (`toy`). Imports ganret_lib.core only."""
