"""Relecture du juriste sur l'exécution des marchés (RAPPORT2, section 3 : RN10, TN2, AN2, NN4) : chaque
correction est relue dans la pièce produite (annexe de conformité, CCAP)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Lu, ecrire, reponses, RACINE
from generateur.rendu.generation import generer as generer_dce

CONTROLE_MP = "Un marché de plus de trois mois exposé aux cours mondiaux des matières premières est à prix révisables"


def _piece(fichiers: dict[str, Path], fin: str) -> Lu:
    return Lu(next(p for n, p in fichiers.items() if n.endswith(fin)))


def _ligne_controle(annexe: Lu, libelle: str) -> list[str]:
    """Ligne détaillée d'un contrôle de l'annexe : libellé, articles, verdict, message, preuve (espaces insécables
    de la typographie française rendus ordinaires)."""
    lignes = [[c.replace("\u00a0", " ") for c in l] for t in annexe.tableaux for l in t
              if l[0] == libelle and len(l) == 5]
    assert len(lignes) == 1, lignes
    return lignes[0]


def test_matieres_premieres_lues_dans_les_lots(exemples_generes):
    """RN10 : le lot 3 de l'exemple de restauration (café, cacao, sucre, riz) est exposé aux cours mondiaux, même
    si l'acheteur a répondu non : le contrôle est « Conforme », prix révisables, preuve au CCAP (article de la
    révision des prix), et non plus « Sans objet … (réponse de l'acheteur) »."""
    annexe = _piece(exemples_generes["restauration-lycees"], "-annexe-conformite.docx")
    ccap = _piece(exemples_generes["restauration-lycees"], "-CCAP.docx")
    _, _, verdict, message, preuve = _ligne_controle(annexe, CONTROLE_MP)
    assert verdict == "Conforme", message
    assert message.startswith("Prix révisables : durée de 48 mois") and "café, cacao, sucre et riz" in message
    assert preuve.startswith(f"CCAP, article {ccap.article('Révision des prix')} : « Les prix sont révisables")


def test_matieres_premieres_par_code_cpv_et_sans_objet(tmp_path):
    """Un lot de café désigné par son seul code CPV (15861000-1), sur douze mois : prix révisables d'office (R2112-14)
    alors que la durée seule les laisserait fermes ; des fournitures de bureau restent « Sans objet »."""
    donnees = reponses(duree_mois=12, lots=[
        {"numero": 1, "intitule": "Boissons chaudes", "montant_estime": 120000, "cpv": "15861000-1"},
        {"numero": 2, "intitule": "Petites fournitures", "montant_estime": 60000}])
    resultat = generer_dce(ecrire(tmp_path, donnees), tmp_path / "sortie", RACINE)
    _, _, verdict, message, preuve = _ligne_controle(_piece(resultat.fichiers, "-annexe-conformite.docx"), CONTROLE_MP)
    assert verdict == "Conforme" and "code CPV commençant par 15861" in message, message
    assert re.match(r"CCAP, article \d+\.\d+ : « Les prix sont révisables", preuve), preuve

    (tmp_path / "bureau").mkdir()
    resultat = generer_dce(ecrire(tmp_path / "bureau", reponses(duree_mois=12)), tmp_path / "bureau" / "sortie", RACINE)
    _, _, verdict, message, _ = _ligne_controle(_piece(resultat.fichiers, "-annexe-conformite.docx"), CONTROLE_MP)
    assert verdict == "Sans objet" and message.startswith("Prestations non exposées"), message


def _normal(texte: str) -> str:
    return texte.replace("\u00a0", " ").replace("’", "'")


def test_site_occupe_vacances_seulement_pres_des_usagers(exemples_generes):
    """TN2 : les travaux bruyants ne sont réservés aux vacances scolaires que dans une zone occupée ou contiguë à une
    zone occupée ; dans l'aile libérée par le phasage, ils se font aux horaires du chantier (7 h 30 – 18 h)."""
    ccap = _normal(_piece(exemples_generes["travaux-lycee"], "-CCAP.docx").texte)
    assert "phase 1, aile nord (bâtiment B) libérée de juillet à décembre 2027" in ccap
    phrase = next(p for p in re.split(r"(?<=\.) ", ccap) if p.startswith("Les travaux bruyants, poussiéreux"))
    assert phrase.endswith("pendant les périodes de vacances scolaires de la zone de l'établissement, selon le "
                           "calendrier détaillé d'exécution, lorsqu'ils ont lieu dans une zone occupée ou contiguë "
                           "à une zone occupée."), phrase
    assert ("Dans une zone libérée selon le phasage et séparée des zones occupées, ils sont réalisés aux horaires de "
            "travail fixés ci-dessus.") in ccap
    assert "qu'aux horaires suivants : de 7 h 30 à 18 h, du lundi au vendredi" in ccap


def test_espaces_verts_horaires_d_ete_sans_contradiction(exemples_generes):
    """AN2 : l'horaire d'été de l'exemple (« de juin à août, interventions de 6 h à 13 h ») ne lève pas l'interdiction
    des matériels bruyants avant 8 h à proximité des habitations : le CCAP le dit, y compris l'été."""
    ccap = _normal(_piece(exemples_generes["amp-espaces-verts"], "-CCAP.docx").texte)
    assert "de juin à août, interventions de 6 h à 13 h" in ccap
    assert ("Sauf horaires particuliers indiqués ci-dessus, les interventions ont lieu les jours ouvrés, entre 7 h et "
            "19 h. En toute saison, y compris pendant les horaires particuliers indiqués ci-dessus, les matériels "
            "bruyants ne sont pas utilisés avant 8 h à proximité des habitations.") in ccap
    assert "avance ses horaires pour protéger ses salariés, dans le respect de cette règle." in ccap


def test_prestation_non_executee_valorisee(exemples_generes):
    """NN4 : dans un prix global et forfaitaire (nettoyage), la prestation non exécutée et non payée est valorisée par
    la décomposition du prix remise avec l'offre (article « Décomposition des prix » du RC, numéro lu dans le RC), à
    défaut au prorata de la surface ; dans des prix unitaires (espaces verts), au prix unitaire du bordereau."""
    fichiers = exemples_generes["nettoyage-hotel-region"]
    ccap = _piece(fichiers, "-CCAP.docx")
    rc = _piece(fichiers, "-RC.docx")
    lignes = [l for t in ccap.tableaux for l in t if l[0].startswith("Prestation prévue et non exécutée")]
    assert len(lignes) == 1 and _normal(lignes[0][1]) == ("100,00 € HT par prestation non exécutée, la prestation "
                                                          "n'étant pas payée (valeur déduite fixée ci-après)"), lignes
    assert ("La prestation non exécutée est déduite du prix dû au titulaire pour sa valeur dans la décomposition du "
            "prix global et forfaitaire remise avec l'offre en application de l'article "
            f"{rc.article('Décomposition des prix')} du RC ; lorsque le poste de la décomposition couvre d'autres "
            "prestations, sa valeur est ramenée au prorata de la surface concernée par la prestation non exécutée."
            ) in _normal(ccap.texte)
    unitaires = _normal(_piece(exemples_generes["amp-espaces-verts"], "-CCAP.docx").texte)
    assert ("La prestation non exécutée est déduite du prix dû au titulaire au prix unitaire du bordereau des prix qui "
            "la rémunère.") in unitaires
