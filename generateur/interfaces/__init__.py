"""Interfaces : ligne de commande (click), assistant du terminal, assistant web ; minces, au-dessus de la bibliothèque."""
