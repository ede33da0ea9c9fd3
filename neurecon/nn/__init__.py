"""Building blocks: residual blocks, source-aware encoders, kernel prediction and application."""
