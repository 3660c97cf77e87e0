"""Data to train and measure the recommender on, which the model itself never imports.

- ``demo_world``: the generated demo consortium (retailers, stores, items, customers and
  their events), its catalogue and stated preferences in the model's types;
- ``movielens``: MovieLens (small) as interactions and items.
"""
