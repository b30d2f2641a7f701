"""Card builders: pure functions, data in, Adaptive Card dict out. No I/O."""
