"""Pure array functions: no hidden state, no I/O. Every layer and model is built on these."""
