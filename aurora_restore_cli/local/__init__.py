"""Local (no AWS account) support: running our handlers inside moto's Lambda backend."""
