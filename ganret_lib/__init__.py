"""ganret_lib: the library behind the book "GANs for image retrieval".

Layers, each importing only the ones below it:
  core       runs and records, the input-keyed cache, the device, the one training loop
  data       Fashion-MNIST, the image convention, query degradations
  retrieval  metrics, exact ranking, the faiss index, re-ranking, diffusion, the protocol
  gan        DCGAN networks, losses and training, sample quality, toy experiments
  methods    descriptors, encoders, AFA-SVR, query variants
  zoo        the trained models that chapters share
  viz        generic figures
  app        the `ganret` command: fit, index, query and inspect on a folder of images
"""
__version__ = "0.2.0"
