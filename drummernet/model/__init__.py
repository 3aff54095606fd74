"""The model: the analyzer (audio -> impulses), the fixed synthesizer (impulses + kit -> audio),
the drum kits it plays, and the model file that holds them."""
