"""Lot : régénération d'un dossier de consultations, rapport des changements, modifications suivies, bilan SPASER."""
