"""A/B experiments and gradual rollouts of contract versions."""
