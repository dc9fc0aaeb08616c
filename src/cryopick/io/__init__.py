"""RELION file layer: the only code that touches starfile, mrcfile and job directories."""
