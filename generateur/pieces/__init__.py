"""Pièces : le modèle de document neutre (blocs) et le contenu de chaque pièce (RC, CCAP, CCTP, AE, bordereau, mémoire, fiche, annexe, couverture)."""
