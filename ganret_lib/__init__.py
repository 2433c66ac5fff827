"""ganret_lib: the library behind the book "GANs for image retrieval".

One module per concern: data (data sets), features (descriptors, cache), index (search and
exact ranking), metrics (retrieval metrics), viz (figures), runs (seeds, profiles, records).
"""
__version__ = "0.1.0"
