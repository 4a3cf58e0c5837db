"""Meta-learning: a data profile, a knowledge base of pipeline results across many real
datasets, and the recommender that picks which pipeline to try next."""
