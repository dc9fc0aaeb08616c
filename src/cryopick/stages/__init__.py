"""One module per RELION job: typed parameters in, a complete job directory out."""
