"""Retrieval: metrics (`metrics`), exact ranking for mAP@all (`exact`), the faiss index
(`index`), label-free re-ranking (`rerank`) and the book's protocol (`protocol`). Imports
ganret_lib.data and ganret_lib.core only."""
