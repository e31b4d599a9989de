"""Rapport Word du bilan SPASER (graphiques et tableaux pour un directeur) et écriture des fichiers du bilan."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..donnees import catalogue
from ..droit.spaser import ordre_actions
from ..rendu import graphiques
from .bilan import Bilan, Indicateur, Mesure, trajectoire
from ..pieces.blocs import Bloc, ElementListe, Image, Liste, Paragraphe, Segment, Titre
from .classeur import classeur
from ..donnees.fichiers import ecrire_atomique
from ..rendu.documents import produire, variables_acheteur
from ..donnees.formats import date_longue, liste_fr, montant, nombre, pourcent
from ..rendu.generation import modele_de
from ..pieces.tracabilite import tableau

NBSP = "\u00a0"
PRINCIPAUX = ("consideration_environnementale", "critere_environnemental", "clause_sociale", "consideration_sociale")


def _periode(bilan: Bilan) -> str:
    annees = bilan.annees
    return f"en {annees[0]}" if len(annees) == 1 else f"de {annees[0]} à {annees[-1]}"


def _valeur(indicateur: Indicateur, m: Mesure) -> str:
    """« 67 % (2 sur 3) », « 5 746 heures », « 6 302 000,00 € HT »."""
    if indicateur.genre == "part":
        if m.part is None:
            return "aucune consultation"
        return f"{pourcent(round(m.part, 1))} ({nombre(len(m.comptees))} sur {nombre(len(m.population))})"
    if indicateur.unite == "heures":
        return f"{nombre(m.total)} heures"
    return montant(m.total)


def _en_lots(m: Mesure) -> str:
    """« 3 sur 5 (60 %) »."""
    if not m.lots:
        return "aucun lot"
    return f"{nombre(len(m.lots_comptes))} sur {nombre(len(m.lots))} ({pourcent(round(m.part_lots or 0, 1))})"


def _en_montant(m: Mesure) -> str:
    """« 120 000,00 € HT sur 180 000,00 € HT (67 %) »."""
    if not m.montant:
        return "—"
    return f"{montant(m.montant_compte)} sur {montant(m.montant)} ({pourcent(round(m.part_montant or 0, 1))})"


def _atteinte(m: Mesure) -> str:
    if m.cible is None or m.part is None:
        return "—"
    return f"{pourcent(m.cible)} : {'atteinte' if m.part >= m.cible else 'non atteinte'}".replace(" :", f"{NBSP}:")


def _trajectoire_texte(bilan: Bilan, ident: str) -> str:
    points = trajectoire(bilan.acheteur, ident)
    return liste_fr(f"{pourcent(v)} en {a}" for a, v in points)


def blocs(bilan: Bilan) -> tuple[list[Bloc], list[Titre]]:
    """Le rapport : synthèse, trajectoire, chantiers, insertion et commerce équitable, DECP, méthode."""
    corps: list[Bloc] = []
    titres: list[Titre] = []
    derniere = bilan.annees[-1]

    def article(n: int, texte: str) -> None:
        t = Titre(1, f"Article {n} – {texte}", f"_Toc_art_{n}")
        corps.append(t)
        titres.append(t)

    def sous_titre(texte: str, signet: str) -> None:
        t = Titre(2, texte, signet)
        corps.append(t)
        titres.append(t)

    def image(donnees: bytes, description: str) -> None:
        corps.append(Image(donnees, 160, description))
        corps.append(Paragraphe([Segment(description, False, True)], centre=True))

    article(1, "Synthèse")
    corps.append(Paragraphe([Segment(
        f"Bilan de {nombre(len(bilan.consultations))} consultation{'s' if len(bilan.consultations) > 1 else ''} "
        f"lancée{'s' if len(bilan.consultations) > 1 else ''} {_periode(bilan)} par "
        f"{bilan.acheteur.profil['nom']}, au regard de la politique «{NBSP}"
        f"{bilan.acheteur.referentiel.get('titre', '')}{NBSP}». Chaque chiffre est déduit des clauses retenues pour "
        "chaque consultation ; le classeur joint en donne le détail, consultation par consultation et lot par lot.")]))
    corps.append(Paragraphe([Segment(f"En {derniere}{NBSP}:", True)]))
    corps.append(Liste(False, [
        ElementListe([Segment(f"{i.libelle}{NBSP}: ", True), Segment(_valeur(i, i.mesures[derniere])),
                      Segment(f" ; cible {_atteinte(i.mesures[derniere])}".replace(" ;", f"{NBSP};")
                              if i.mesures[derniere].cible is not None else "")])
        for i in bilan.indicateurs]))
    entete = ["Indicateur"] + [str(a) for a in bilan.annees]
    corps.append(tableau([entete] + [[i.libelle] + [_valeur(i, i.mesures[a]) for a in bilan.annees]
                                      for i in bilan.indicateurs],
                          [40] + [60 // len(bilan.annees)] * len(bilan.annees)))
    corps.append(Paragraphe([Segment(
        f"Chaque lot est un marché, déclaré à part dans les données essentielles{NBSP}: les mêmes indicateurs, comptés "
        "en lots et en montant estimé des lots.")]))
    corps.append(tableau(
        [["Indicateur en lots", "Année", "Lots", "Montant estimé des lots"]]
        + [[i.libelle, str(a), _en_lots(i.mesures[a]), _en_montant(i.mesures[a])]
           for i in bilan.indicateurs if i.genre == "part" for a in bilan.annees],
        [40, 10, 22, 28]))

    article(2, "Trajectoire de la politique")
    suivis = [bilan.indicateur(ident) for ident in PRINCIPAUX
              if ident != "consideration_sociale" or trajectoire(bilan.acheteur, ident)]
    image(graphiques.parts_et_cibles(
        bilan.annees, [(i.libelle, [i.mesures[a].part for a in bilan.annees], [i.mesures[a].cible for a in bilan.annees])
                       for i in suivis]),
        "Figure 1 – Parts des consultations et cibles de la politique, par année")
    corps.append(Paragraphe([Segment(
        "Part des consultations de chaque année qui remplissent l'indicateur, comparée à la cible de la politique "
        "pour cette année (la dernière cible fixée pour une année antérieure ou égale).")]))
    lignes = [["Indicateur", "Année", "Consultations", "Part", "Cible", "Écart"]]
    for i in suivis:
        for a in bilan.annees:
            m = i.mesures[a]
            lignes.append([i.libelle, str(a), f"{nombre(len(m.comptees))} sur {nombre(len(m.population))}",
                           pourcent(round(m.part, 1)) if m.part is not None else "—",
                           pourcent(m.cible) if m.cible is not None else "—",
                           f"{'+' if m.part - m.cible >= 0 else '−'}{nombre(abs(m.part - m.cible), 1)} points"
                           if m.cible is not None and m.part is not None else "—"])
    corps.append(tableau(lignes, [38, 9, 17, 12, 11, 13]))
    notes = [f"{i.cible_libelle}{NBSP}: {_trajectoire_texte(bilan, i.id)}" for i in suivis if trajectoire(bilan.acheteur, i.id)]
    if notes:
        corps.append(Paragraphe([Segment("Cibles de la politique d'achat", True)]))
        corps.append(Liste(False, [ElementListe([Segment(n)]) for n in notes]))

    article(3, "Chantiers du SPASER")
    totaux: dict[tuple[Any, Any], dict[str, Any]] = {}
    for c in bilan.chantiers:
        t = totaux.setdefault((c["axe"], c["chantier"]), {"titre": c["titre"], "n": 0, "legales": 0})
        t["n"] += len(c["mettent_en_oeuvre"])
        t["legales"] += len(c["obligations_legales_seules"])
    total = len(bilan.consultations)
    mises = ordre_actions({a for c in bilan.consultations for a in c.actions})
    legales = ordre_actions({a for c in bilan.consultations for a in c.actions_obligations} - set(mises))
    touchees = "ne sont touchées" if len(legales) > 1 else "n'est touchée"
    corps.append(Paragraphe([Segment(
        f"Actions du SPASER mises en œuvre au-delà du droit {_periode(bilan)}{NBSP}: "
        f"{nombre(len(mises))}{f' ({liste_fr(mises)})' if mises else ''}, par "
        f"{nombre(sum(1 for c in bilan.consultations if c.actions))} consultation"
        f"{'s' if sum(1 for c in bilan.consultations if c.actions) > 1 else ''} sur {nombre(total)}. Une action n'est "
        "comptée que si une clause retenue du CCAP ou du CCTP la met en œuvre au-delà de ce que le droit impose, par "
        "un choix de l'acheteur ou une règle de sa politique d'achat ; un critère de jugement ne compte qu'avec une "
        "telle clause, une variante jamais. À part, la part due aux obligations légales"
        f"{NBSP}: {nombre(len(legales))} autre{'s' if len(legales) > 1 else ''} action"
        f"{'s' if len(legales) > 1 else ''}{f' ({liste_fr(legales)})' if legales else ''} "
        f"{touchees} que par des clauses qui appliquent le droit "
        "commun à tous les acheteurs.")]))
    image(graphiques.barres_horizontales(
        [f"{ch}. {t['titre']}" for (_, ch), t in totaux.items()], [t["n"] for t in totaux.values()],
        [f"{nombre(t['n'])} ({pourcent(round(100 * t['n'] / total))})" for t in totaux.values()],
        "Consultations", seconde=(
            "Mise en œuvre au-delà du droit", "Obligations légales seules", [t["legales"] for t in totaux.values()],
            [f"{nombre(t['legales'])} ({pourcent(round(100 * t['legales'] / total))})" for t in totaux.values()])),
        "Figure 2 – Consultations par chantier du SPASER : au-delà du droit, et par les seules obligations légales")
    corps.append(Paragraphe([Segment(
        f"Nombre de consultations lancées {_periode(bilan)} qui mettent en œuvre au-delà du droit au moins une action "
        "de chaque chantier (chantiers dont une action peut figurer dans un DCE). La colonne «" + NBSP
        + "obligations légales seules" + NBSP + "» compte à part les consultations qui ne touchent le chantier que par "
        "des clauses imposées par le droit.")]))
    for a in bilan.annees:
        sous_titre(f"Chantiers en {a}", f"_Toc_chantiers_{a}")
        lignes = [["Chantier", "Au-delà du droit", "Obligations légales seules",
                   "dont considération environnementale", "dont critère environnemental"]]
        for c in (c for c in bilan.chantiers if c["annee"] == a):
            n, n_legales = len(c["mettent_en_oeuvre"]), len(c["obligations_legales_seules"])
            lignes.append([f"{c['chantier']}. {c['titre']}",
                           f"{nombre(n)} ({pourcent(round(100 * n / c['consultations']))})",
                           f"{nombre(n_legales)} ({pourcent(round(100 * n_legales / c['consultations']))})",
                           nombre(len(c["consideration_environnementale"])), nombre(len(c["critere_environnemental"]))])
        corps.append(tableau(lignes, [40, 15, 15, 15, 15]))

    article(4, "Insertion, commerce équitable, marchés réservés et allotissement")
    heures, equitable = bilan.indicateur("heures_insertion"), bilan.indicateur("commerce_equitable")
    image(graphiques.deux_sommes(bilan.annees, [heures.mesures[a].total for a in bilan.annees],
                                 [equitable.mesures[a].total for a in bilan.annees]),
          "Figure 3 – Heures d'insertion prévues et montant des consultations exigeant du commerce équitable")
    reserves, allotis = bilan.indicateur("marches_reserves"), bilan.indicateur("allotissement")
    corps.append(tableau(
        [["Année", "Heures d'insertion", "Commerce équitable", "Marchés réservés", "Consultations alloties"]]
        + [[str(a), _valeur(heures, heures.mesures[a]), _valeur(equitable, equitable.mesures[a]),
            _valeur(reserves, reserves.mesures[a]), _valeur(allotis, allotis.mesures[a])] for a in bilan.annees],
        [10, 20, 26, 20, 24]))

    article(5, "Données essentielles (DECP)")
    comptes: dict[tuple[str, str], int] = {}
    for d in bilan.decp:
        comptes[(d["champ"], d["valeur"])] = comptes.get((d["champ"], d["valeur"]), 0) + len(d["consultations"])
    image(graphiques.barres_horizontales(
        [v for _, v in comptes], list(comptes.values()),
        [f"{nombre(n)} ({pourcent(round(100 * n / total))})" for n in comptes.values()], "Consultations", 40),
        "Figure 4 – Considérations sociales et environnementales déclarées (DECP 2.x)")
    for a in bilan.annees:
        n_annee = sum(1 for c in bilan.consultations if c.annee == a)
        sous_titre(f"Données essentielles en {a}", f"_Toc_decp_{a}")
        lots_annee = sum(c.lots for c in bilan.consultations if c.annee == a)
        corps.append(tableau([["Champ", "Valeur", "Consultations", "Lots"]]
                              + [[d["champ"], d["valeur"], f"{nombre(len(d['consultations']))} sur {nombre(n_annee)}",
                                  f"{nombre(len(d['lots']))} sur {nombre(lots_annee)}"]
                                 for d in bilan.decp if d["annee"] == a], [34, 34, 16, 16]))

    article(6, "Méthode et consultations comptées")
    corps.append(Liste(False, [
        ElementListe([Segment("Année", True), Segment(f"{NBSP}: année de la date de lancement de la consultation.")]),
        ElementListe([Segment("Source", True), Segment(
            f"{NBSP}: les fichiers de réponses du dossier «{NBSP}{bilan.dossier.name or bilan.dossier}{NBSP}», "
            "analysés avec les règles et le catalogue de clauses de la génération des DCE.")]),
        ElementListe([Segment("Cibles", True), Segment(
            f"{NBSP}: profil de l'acheteur, politique d'achat (acheteurs/{bilan.acheteur.id}/acheteur.yaml, «{NBSP}cibles{NBSP}»).")]),
        *[ElementListe([Segment(i.libelle, True), Segment(f"{NBSP}: {i.definition[0].lower() + i.definition[1:]}")])
          for i in bilan.indicateurs],
    ]))
    corps.append(tableau(
        [["Référence", "Lancement", "Objet", "Montant estimé", "Fichier"]]
        + [[c.reference, date_longue(c.date_lancement), c.objet, montant(c.montant_total), c.fichier]
           for c in bilan.consultations],
        [16, 14, 36, 16, 18]))
    return corps, titres


def _variables(bilan: Bilan) -> dict[str, Any]:
    debut, fin = bilan.consultations[0].date_lancement, bilan.consultations[-1].date_lancement
    objet = (f"Bilan de la politique d'achat responsable{NBSP}: {nombre(len(bilan.consultations))} consultation"
             f"{'s' if len(bilan.consultations) > 1 else ''} lancée{'s' if len(bilan.consultations) > 1 else ''} "
             f"{_periode(bilan)}")
    return {
        **variables_acheteur(bilan.acheteur.profil, bilan.acheteur.logo()),
        "titre_document": "Bilan SPASER", "sigle_document": "BILAN", "objet": objet, "objet_court": "Bilan SPASER",
        "reference": nom_bilan(bilan), "procedure": "toutes procédures", "date_limite": "sans objet",
        "date_lancement": date_longue(debut) if debut == fin else f"du {date_longue(debut)} au {date_longue(fin)}",
    }


def nom_bilan(bilan: Bilan, annee: int | None = None) -> str:
    return f"bilan-SPASER-{bilan.acheteur.id}" + (f"-{annee}" if annee else "")


def contenus(bilan: Bilan, racine: Path | None = None, annee: int | None = None) -> dict[str, bytes]:
    """Le rapport Word et le classeur d'un bilan, en mémoire."""
    cat = catalogue.charger(catalogue.resoudre_racine(racine))
    modele = modele_de(SimpleNamespace(acheteur=bilan.acheteur, catalogue=cat), "CCAP")  # type: ignore[arg-type]
    corps, titres = blocs(bilan)
    base = nom_bilan(bilan, annee)
    return {f"{base}.docx": produire(modele, _variables(bilan), corps, titres), f"{base}.xlsx": classeur(bilan)}


def ecrire(bilans: list[Bilan], sortie: Path, racine: Path | None = None, annee: int | None = None) -> dict[str, Path]:
    """Produit tout en mémoire, puis écrit chaque fichier de façon atomique."""
    tout: dict[str, bytes] = {}
    for b in bilans:
        tout.update(contenus(b, racine, annee))
    chemins = {}
    for nom, contenu in tout.items():
        ecrire_atomique(sortie / nom, contenu)
        chemins[nom] = sortie / nom
    return chemins

