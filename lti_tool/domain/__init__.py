"""The certification domain: pure values and rules, standard library only."""
