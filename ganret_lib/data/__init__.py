"""Data: Fashion-MNIST (`fashion_mnist`), the one image convention (`images`) and query
degradations (`degrade`). Imports only ganret_lib.core."""
