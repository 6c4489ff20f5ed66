"""The wire contract of the Elasticsearch Inference API: pure data, no I/O."""
