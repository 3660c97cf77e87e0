"""Data to train and measure the recommender on, which the model itself never imports.

- ``demo_world``: the generated demo consortium (retailers, stores, items, customers and
  their events);
- ``demo_inputs``: that world in the model's types (catalogue, stated preferences, items,
  interactions, user profiles);
- ``movielens``: MovieLens (small) as interactions and items.
"""
