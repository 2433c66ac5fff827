"""`python -m ganret_lib.data`: make Fashion-MNIST available (what `make data` runs)."""
from .fashion_mnist import main

main()
