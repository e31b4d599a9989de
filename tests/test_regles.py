"""Valeurs calculées par les règles du catalogue, à la date de lancement."""

from __future__ import annotations

import datetime as dt

import pytest

from generateur.droit.regles import preparer
from conftest import RACINE, ecrire, reponses


def _analyse(tmp_path, **modifs):
    return preparer(ecrire(tmp_path, reponses(**modifs)), RACINE)


def _lot(analyse, numero):
    return next(l for l in analyse.contexte["lots"] if l["numero"] == numero)


def test_avance_base_et_taux_par_lot(tmp_path):
    a = _analyse(tmp_path, duree_mois=24, lots=[
        {"numero": 1, "intitule": "A", "montant_estime": 120000},
        {"numero": 2, "intitule": "B", "montant_estime": 1500000, "duree_mois": 10},
    ])
    l1, l2 = _lot(a, 1), _lot(a, 2)
    # R2191-7 : durée > 12 mois → 12 × montant TTC / durée
    assert l1["montant_ttc"] == pytest.approx(144000)
    assert l1["avance_base_ttc"] == pytest.approx(72000)
    assert (l1["avance_taux_pme"], l1["avance_taux_non_pme"]) == (20, 15)
    # lot ≥ 1 000 000 € HT : taux de base pour tous ; durée ≤ 12 mois : base = montant TTC
    assert l2["avance_base_ttc"] == pytest.approx(1800000)
    assert (l2["avance_taux_pme"], l2["avance_taux_non_pme"]) == (15, 15)


def test_avance_filiere_btp_et_versement_sous_le_seuil(tmp_path):
    a = _analyse(tmp_path, nature="travaux", categorie="batiment", duree_mois=6, spaser={"filiere_btp": True}, lots=[
        {"numero": 1, "intitule": "Gros œuvre", "montant_estime": 1000000},
        {"numero": 2, "intitule": "Peinture", "montant_estime": 40000, "duree_mois": 4},
        {"numero": 3, "intitule": "Signalétique", "montant_estime": 30000, "duree_mois": 2},
    ])
    # ≤ 1 000 000 € HT, contrat de filière BTP : 30 % pour tout titulaire, PME ou non (politique Occitanie,
    # action 11.4 : « avance portée à 30 % pour les lots inférieurs ou égaux à 1 000 000 € dans le cadre du
    # contrat de filière BTP » ; la majoration « TPE/PME » ne vise que le taux de 20 %)
    assert (_lot(a, 1)["avance_taux_pme"], _lot(a, 1)["avance_taux_non_pme"]) == (30, 30)
    au_dela = _analyse(tmp_path, nature="travaux", categorie="batiment", duree_mois=6, spaser={"filiere_btp": True},
                       lots=[{"numero": 1, "intitule": "Gros œuvre", "montant_estime": 1000000.01}])
    assert (_lot(au_dela, 1)["avance_taux_pme"], _lot(au_dela, 1)["avance_taux_non_pme"]) == (15, 15)
    assert _lot(a, 2)["avance_obligatoire"] is False    # < 50 000 € HT (R2191-3)
    assert _lot(a, 2)["avance_versee"] is True          # mais durée > 3 mois : politique 11.4
    assert _lot(a, 3)["avance_versee"] is False


def test_taux_jamais_sous_le_minimum_legal(tmp_path):
    # Aix-Marseille-Provence : politique à 10 %, minimum légal PME d'une collectivité > 60 M€ = 10 %
    a = _analyse(tmp_path, acheteur="aix-marseille-provence")
    assert _lot(a, 1)["avance_taux_pme"] >= 10
    assert a.catalogue.param("avance_taux_minimum_pme", dt.date(2026, 12, 1), "collectivite_drf_60m") == 10
    assert a.catalogue.param("avance_taux_minimum_pme", dt.date(2026, 12, 1), "etat") == 30
    assert a.catalogue.param("avance_taux_minimum_pme", dt.date(2022, 6, 1), "etat") == 20


def test_heures_d_insertion(tmp_path):
    a = _analyse(tmp_path, nature="services", categorie="nettoyage",
                 spaser={"insertion": {"actif": True, "taux": 5, "cout_horaire": 30}},
                 lots=[{"numero": 1, "intitule": "Nettoyage", "montant_estime": 300000, "part_main_oeuvre": 60},
                       {"numero": 2, "intitule": "Vitrerie", "montant_estime": 50000}])
    assert _lot(a, 1)["heures_insertion"] == 300   # 300 000 × 60 % × 5 % ÷ 30
    assert _lot(a, 2)["insertion_lot"] is False    # sous le seuil de la politique (90 000 € HT)
    assert _lot(a, 2)["heures_insertion"] == 0


@pytest.mark.parametrize("lancement, procedure", [
    ("2025-12-31", "procedure_adaptee"),     # seuil 2024-2025 : 221 000 € HT
    ("2026-01-02", "appel_offres_ouvert"),   # seuil 2026-2027 : 216 000 € HT
])
def test_seuil_europeen_selon_la_date(tmp_path, lancement, procedure):
    a = _analyse(tmp_path, date_lancement=lancement, date_limite_offres="2026-03-01 12:00",
                 lots=[{"numero": 1, "intitule": "Lot unique", "montant_estime": 218000}])
    assert a.contexte["procedure"] == procedure


@pytest.mark.parametrize("lancement, attendu", [("2026-08-20", False), ("2026-08-21", True), ("2026-09-01", True)])
def test_obligations_climat_et_resilience(tmp_path, lancement, attendu):
    a = _analyse(tmp_path, date_lancement=lancement, date_limite_offres="2026-10-15 12:00",
                 lots=[{"numero": 1, "intitule": "Lot unique", "montant_estime": 300000}])
    assert a.contexte["climat_resilience"] is attendu
    assert a.contexte["clause_sociale_obligatoire"] is attendu


def test_retenue_3_pourcent_depuis_2025_pour_une_region(tmp_path):
    a = _analyse(tmp_path, nature="travaux", categorie="batiment", delai_garantie_mois=12)
    assert a.contexte["retenue_taux_pme"] == 3
    assert a.catalogue.param("retenue_taux_maximum_pme", dt.date(2024, 6, 1), "collectivite_drf_60m") == 5


def test_droit_du_force_la_date(tmp_path):
    a = preparer(ecrire(tmp_path, reponses(date_lancement="2025-06-01", date_limite_offres="2025-07-01 12:00",
                                           lots=[{"numero": 1, "intitule": "L", "montant_estime": 218000}])),
                 RACINE, dt.date(2026, 2, 1))
    assert a.date_droit == dt.date(2026, 2, 1)
    assert a.contexte["seuil_europeen"] == 216000


def test_revision_des_prix(tmp_path):
    courte = _analyse(tmp_path, duree_mois=6)
    longue = _analyse(tmp_path, duree_mois=24)
    travaux = _analyse(tmp_path, nature="travaux", categorie="batiment", duree_mois=8)
    assert courte.contexte["variation_prix"] == "ferme"
    assert longue.contexte["variation_prix"] == "revisable"
    assert travaux.contexte["variation_prix"] == "revisable"
    assert _lot(travaux, 1)["indice_revision"] == "BT01"


def test_noms_du_moteur_declares_une_fois(tmp_path):
    """Les noms que le moteur ajoute au contexte sont ceux que `dce catalogue verifier` reconnaît."""
    from generateur.droit.regles import NOMS_ANALYSE, NOMS_CLAUSE, contexte_clause

    analyse = preparer(ecrire(tmp_path, reponses()))
    ajoutes_analyse = set(analyse.contexte) - set(analyse.reponses.donnees)
    calculs = {c["nom"] for section in analyse.catalogue.calculs.values() for c in section}
    assert ajoutes_analyse - calculs <= set(NOMS_ANALYSE) <= set(analyse.contexte)
    selection = next(s for s in analyse.selections if s.retenue)
    assert set(contexte_clause(analyse, selection)) - set(analyse.contexte) == set(NOMS_CLAUSE)
