"""The Teams adapter: with bot/dialogs/, the only code that imports botbuilder or msrest (tests/test_layers.py).

botbuilder-python is archived; keeping the SDK behind this folder keeps a move to the Microsoft 365 Agents SDK
small."""
