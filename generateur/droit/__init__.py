"""Droit : expressions en bac à sable, règles et calculs datés, suggestions, contrôles juridiques, vérification du catalogue."""
