"""Data: Fashion-MNIST (`fashion_mnist`), the one image convention (`images`), query
degradations (`degrade`) and folders of the reader's image files (`folder`). Imports only
ganret_lib.core."""
