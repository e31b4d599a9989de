"""Mémoires et raccourcis de la couche des pièces (issue 22) : ils ne changent rien de visible et suivent leurs
entrées. Aucun chronométrage ici (voir benchmarks/)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import EXEMPLES, RACINE
from test_robustesse import _copie_catalogue as copie_catalogue, catalogue_modifie
from generateur.donnees import catalogue
from generateur.pieces import croises


def _pieces_relues(exemple: str) -> tuple[object, dict]:
    from generateur.droit.regles import preparer
    from generateur.pieces import relecture
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.tracabilite import fiche

    analyse = preparer(EXEMPLES / exemple, RACINE)
    blocs = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    blocs["Fiche de traçabilité"] = fiche(analyse)[0]
    return analyse, {nom: relecture.piece(nom, b) for nom, b in blocs.items()}


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_controles_croises_gardes_memes_defauts_que_sans_memoire(exemple, monkeypatch):
    """Les correspondances gardées par texte donnent les mêmes défauts, dans le même ordre, que des recherches
    refaites à chaque fois (mémoire vidée à chaque texte)."""
    analyse, pieces = _pieces_relues(exemple)
    croises._TROUVES.clear()
    premier = croises.controler(analyse.catalogue, pieces)
    repris = croises.controler(analyse.catalogue, pieces)
    monkeypatch.setattr(croises, "TEXTES_AU_PLUS", 0)
    monkeypatch.setattr(croises, "_TROUVES", {})  # fenêtres de 0 entrée : chaque texte cherché de nouveau
    sans = croises.controler(analyse.catalogue, pieces)
    assert all(len(memoire) == 0 for memoire in croises._TROUVES.values())
    assert premier == repris == sans


def test_controles_croises_gardes_suivent_le_texte():
    """Chaque contrôle croisé du catalogue, appliqué tour à tour à son exemple fautif et à son texte correct (les
    textes de l'un et de l'autre étant gardés) : le défaut suit le texte, à chaque tour."""
    cat = catalogue.charger(RACINE)
    controles = [c for c in croises.controles(cat) if c.correct]
    assert controles
    for _ in range(2):
        for c in controles:
            fautif = [d for d in croises.appliquer(c, croises.pieces_d_exemple(c.exemple)) if d.regle == c.id]
            assert fautif, c.id
            assert croises.appliquer(c, croises.pieces_d_exemple(c.correct)) == [], c.id


def test_controles_croises_memoire_bornee(monkeypatch):
    """Les correspondances gardées de chaque motif : les textes qui reviennent d'une consultation à l'autre restent,
    ceux d'une seule consultation s'en vont après elle ; au plus TEXTES_AU_PLUS par motif, MOTIFS_AU_PLUS motifs.
    Rien n'est gardé à TEXTES_AU_PLUS = 0."""
    import re

    from generateur.donnees import fenetre

    monkeypatch.setattr(croises, "TEXTES_AU_PLUS", 5)
    monkeypatch.setattr(fenetre, "_PRODUITES", [0])
    croises._TROUVES.clear()
    motif, autre = re.compile(r"\d+"), re.compile(r"[a-z]+")
    for i in range(23):  # une consultation par tour : son texte propre (« lot i ») et un texte commun
        for texte in (f"lot {i}", "commun 7"):
            assert [m.group(0) for m in croises._trouves(motif, texte)] == [re.sub(r"\D", "", texte)]
            assert [m.group(0) for m in croises._trouves(autre, texte)] == [texte.split()[0]]
        for memoire in croises._TROUVES.values():
            assert len(memoire) <= 4 * 5 and len(memoire.gardees) <= 5
        fenetre.consultation_suivante()
    for memoire in croises._TROUVES.values():
        assert list(memoire.gardees) == ["commun 7"]
        assert "lot 0" not in {t for d in (memoire.nouvelles, memoire.passees, memoire.anciennes) for t in d}
    monkeypatch.setattr(croises, "MOTIFS_AU_PLUS", 3)
    for i in range(10):
        croises._trouves(re.compile(f"x{i}"), "x1 x2")
        assert len(croises._TROUVES) <= 3
    monkeypatch.setattr(croises, "TEXTES_AU_PLUS", 0)
    croises._TROUVES.clear()
    assert [m.group(0) for m in croises._trouves(motif, "lot 3")] == ["3"]
    assert all(len(memoire) == 0 for memoire in croises._TROUVES.values())


@pytest.mark.parametrize("texte, attendu", [
    ("Rubrique « {{ intitule }} » pour {{ variable_inconnue }}.", "« variable_inconnue »"),
    ("Rubrique « {{ intitule }.", "impossible à rendre"),
])
def test_cadre_de_memoire_modeles_gardes_erreurs_redites(tmp_path, texte, attendu):
    """Les textes du cadre de mémoire compilés une fois par processus : une erreur de rendu ou de syntaxe n'est pas
    gardée, elle se redit à chaque génération (contrôles compris, qui relisent les titres du cadre) ; un texte
    correct rendu pour deux consultations suit chacune."""
    from generateur.droit.regles import preparer
    from generateur.erreurs import ErreurDonnees
    from generateur.pieces import lecture, memoire

    racine = copie_catalogue(tmp_path)
    fichier = racine / "modeles" / "memoire.yaml"
    lignes = fichier.read_text(encoding="utf-8").split("\n")
    rang = next(i for i, ligne in enumerate(lignes) if ligne.startswith("  sous_critere: "))
    lignes[rang] = f'  sous_critere: "{texte}"'
    fichier.write_text("\n".join(lignes), encoding="utf-8")
    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", racine)
    for appel in (lambda: memoire.blocs_cadre(analyse), lambda: lecture.controler(analyse),
                  lambda: memoire.blocs_cadre(analyse)):
        with pytest.raises(ErreurDonnees) as exc:
            appel()
        assert attendu in str(exc.value)


def test_cadre_de_memoire_modeles_gardes_suivent_la_consultation():
    """Un même texte du cadre, compilé une fois, rendu pour deux consultations : chacune a ses intitulés."""
    from generateur.donnees.formats import typographie
    from generateur.droit.regles import preparer
    from generateur.pieces import memoire
    from generateur.pieces.lecture import texte_blocs

    textes = {}
    for exemple in ("travaux-lycee", "restauration-lycees", "travaux-lycee"):
        analyse = preparer(EXEMPLES / f"{exemple}.yaml", RACINE)
        texte = texte_blocs(memoire.blocs_cadre(analyse)[0])
        textes.setdefault(exemple, texte)
        assert textes[exemple] == texte
        for c in analyse.contexte["criteres"]:
            for s in c.get("sous_criteres") or []:
                assert typographie(f"seul sous-critère «\u00a0{s['intitule']}\u00a0»") in texte
    assert textes["travaux-lycee"] != textes["restauration-lycees"]


def _cellules_texte(blocs: list) -> list:
    from generateur.pieces.blocs import Tableau

    return [[[(s.texte, s.gras, s.italique, s.a_completer) for s in c] for c in ligne]
            for b in blocs if isinstance(b, Tableau) for ligne in b.lignes]


def test_cellules_gardees_memes_tableaux_que_neuves(monkeypatch):
    """Les cellules partagées d'un tableau à l'autre (fiche, annexe) : mêmes blocs que des cellules neuves, après
    qu'une consultation a été relue et écrite en WordprocessingML (aucune cellule gardée n'est modifiée) ; une autre
    consultation a ses propres valeurs ; la mémoire est bornée."""
    from generateur.droit.regles import preparer
    from generateur.pieces import annexe, lecture, relecture, tracabilite
    from generateur.rendu.ooxml import Ecrivain, Numerotation, Styles

    def produire(exemple: str) -> tuple[list, list]:
        analyse = preparer(EXEMPLES / exemple, RACINE)
        blocs_fiche = tracabilite.fiche(analyse)[0]
        conformite = lecture.controler(analyse, blocs_fiche=lambda: blocs_fiche)
        blocs_annexe = annexe.blocs(analyse, conformite)[0]
        lues = _cellules_texte(blocs_fiche), _cellules_texte(blocs_annexe)  # avant relecture et écriture
        for nom, blocs in (("Fiche", blocs_fiche), (annexe.TITRE, blocs_annexe)):
            relecture.piece(nom, blocs)
            assert Ecrivain(Styles(), Numerotation(100, 1)).blocs(blocs)
        return lues

    tracabilite._CELLULES.clear()
    gardees = [produire(e) for e in ("travaux-lycee.yaml", "restauration-lycees.yaml", "travaux-lycee.yaml")]
    assert len(tracabilite._CELLULES) > 100
    assert gardees[0] == gardees[2] != gardees[1]
    monkeypatch.setattr(tracabilite, "CELLULES_AU_PLUS", -1)  # vidée avant chaque tableau : cellules neuves
    assert [produire(e) for e in ("travaux-lycee.yaml", "restauration-lycees.yaml")] == gardees[:2]
    monkeypatch.setattr(tracabilite, "CELLULES_AU_PLUS", 50)
    for i in range(200):
        tracabilite.tableau([["Rubrique", "Valeur"], [f"ligne {i}", "l'acheteur : oui"]])
        assert len(tracabilite._CELLULES) <= 50 + 4
    assert tracabilite.tableau([["l'acheteur : oui"]]).lignes[0][0][0].texte == "l\u2019acheteur\u00a0: oui"


def test_unites_gardees_memes_pieces_que_neuves(monkeypatch):
    """Les unités partagées d'une pièce et d'une consultation à l'autre : chaque pièce relue (RC, CCAP, CCTP, fiche)
    a exactement les unités, dans le même ordre, qu'une lecture sans mémoire, et les mêmes défauts de relecture et
    de contrôles croisés ; une consultation n'hérite rien d'une autre ; la mémoire est bornée."""
    from generateur.donnees import fenetre
    from generateur.pieces import relecture

    relecture._UNITES.vider()
    lues = {}
    for exemple in ("travaux-lycee.yaml", "nettoyage-hotel-region.yaml", "travaux-lycee.yaml"):
        analyse, pieces = _pieces_relues(exemple)
        lues.setdefault(exemple, []).append((pieces, relecture.relire(analyse.catalogue, pieces)
                                             + croises.controler(analyse.catalogue, pieces)))
    monkeypatch.setattr(relecture._UNITES_BLOCS, "maximum", 0)  # unités gardées par bloc : neuves à chaque lecture
    for exemple, ((pieces, defauts), *autres) in lues.items():
        monkeypatch.setattr(relecture, "_UNITES", fenetre.Fenetre(relecture.UNITES_AU_PLUS))  # unités neuves
        analyse, neuves = _pieces_relues(exemple)
        assert {n: p.unites for n, p in pieces.items()} == {n: p.unites for n, p in neuves.items()}
        assert defauts == relecture.relire(analyse.catalogue, neuves) + croises.controler(analyse.catalogue, neuves)
        for pieces_, defauts_ in autres:
            assert {n: p.unites for n, p in pieces_.items()} == {n: p.unites for n, p in pieces.items()}
            assert defauts_ == defauts
    assert lues["travaux-lycee.yaml"][0][0]["RC"].unites != lues["nettoyage-hotel-region.yaml"][0][0]["RC"].unites
    petite = fenetre.Fenetre(100)
    monkeypatch.setattr(relecture, "_UNITES", petite)
    _pieces_relues("restauration-lycees.yaml")
    # une seule consultation, de bien plus de 100 unités : la fenêtre tourne à chaque centaine ; au plus les 100
    # nouvelles et les 100 d'avant, rien de gardé (aucune autre consultation ne les a redemandées)
    assert 0 < len(petite.nouvelles) <= 100 and not petite.gardees and not petite.passees
    assert len(petite) <= 2 * 100


def test_fenetre_garde_ce_qui_revient_d_une_consultation_a_l_autre(monkeypatch):
    """Une `fenetre.Fenetre` garde une entrée redemandée par une autre consultation que celle qui l'a créée (texte d'une
    clause commune) ; une entrée qui n'a servi qu'à une consultation (son objet, ses montants) s'en va au plus
    2 × CONSULTATIONS_PAR_TOUR consultations après elle, une gardée qui n'est plus demandée au plus
    2 × CONSULTATIONS_PAR_AGE consultations après sa dernière demande ; les gardées sont bornées."""
    from generateur.donnees import fenetre as f

    monkeypatch.setattr(f, "_PRODUITES", [0])
    fenetre = f.Fenetre(maximum=50)
    fenetre["commun"] = "texte commun"
    fenetre["propre-0"] = "objet 0"
    assert fenetre.get("propre-0") == "objet 0"  # redemandée dans la même consultation : pas encore gardée
    for i in range(1, 2 * f.CONSULTATIONS_PAR_TOUR + 1):
        f.consultation_suivante()
        if i == 1:
            assert fenetre.get("commun") == "texte commun"  # redemandée par la consultation suivante : gardée
        fenetre[f"propre-{i}"] = f"objet {i}"
        assert fenetre.get(f"propre-{i}") == f"objet {i}"  # servie pendant sa consultation
    assert fenetre.get("propre-0") is None and fenetre.get("propre-1") is None
    assert fenetre.get(f"propre-{2 * f.CONSULTATIONS_PAR_TOUR}") is not None  # la dernière, pas encore partie
    assert fenetre.get("commun") == "texte commun"
    assert list(fenetre.gardees) == ["commun"]
    # une gardée qui n'est plus demandée (texte qu'avaient en commun deux consultations voisines) s'en va au plus
    # 2 × CONSULTATIONS_PAR_AGE consultations après sa dernière demande ; celle que chaque consultation demande reste
    fenetre["voisines"] = "option de deux consultations"
    f.consultation_suivante()
    assert fenetre.get("voisines") is not None and "voisines" in fenetre.gardees
    for i in range(f.CONSULTATIONS_PAR_AGE - 1):  # au moins CONSULTATIONS_PAR_AGE consultations
        assert fenetre.get("commun") == "texte commun"
        f.consultation_suivante()
    assert "voisines" in fenetre.gardees or "voisines" in fenetre.vieilles
    for i in range(f.CONSULTATIONS_PAR_AGE + 1):
        assert fenetre.get("commun") == "texte commun"
        f.consultation_suivante()
    assert fenetre.get("voisines") is None and fenetre.get("commun") == "texte commun"
    for i in range(200):  # une consultation immense, ou un processus qui ne compte pas les consultations
        fenetre[f"autre-{i}"] = i
    assert len(fenetre.nouvelles) <= 50 and len(fenetre) <= 50 * 5
    fenetre.vider()
    assert len(fenetre) == 0 and fenetre.get("commun") is None


def test_memoires_d_un_processus_ne_gardent_pas_les_textes_propres_a_chaque_consultation(tmp_path):
    """Un processus qui produit des consultations l'une après l'autre (processus de calcul d'un lot, serveur) : les
    blocs du Markdown et les unités de la relecture gardent les textes communs à toutes, pas l'objet de chacune ;
    ceux des premières consultations s'en sont allés à la fin, ceux des dernières y sont encore (au plus
    2 × CONSULTATIONS_PAR_TOUR). (Pièces identiques à celles d'un processus neuf : test_regeneration, processus
    remplacés après chaque consultation.)"""
    from conftest import copier_exemple

    from generateur.donnees import fenetre as f
    from generateur.pieces import markdown_, relecture
    from generateur.rendu.generation import produire_dce

    exemple = EXEMPLES / "nettoyage-hotel-region.yaml"
    texte = exemple.read_text(encoding="utf-8")
    objet = re.search(r'^objet: "(.*)"$', texte, re.M)
    assert objet
    n = 4 * f.CONSULTATIONS_PAR_TOUR
    for i in range(n):
        copie = copier_exemple(exemple, tmp_path / f"c{i}" / "reponses.yaml")
        copie.write_text(texte.replace(objet.group(0), f'objet: "{objet.group(1)}, bâtiment Zéphyr-{i:02d}"'),
                         encoding="utf-8")
        produire_dce(copie, RACINE)

    def textes(memoire) -> list[str]:
        return [str(c) for d in (memoire.gardees, memoire.vieilles, memoire.nouvelles, memoire.passees, memoire.anciennes)
                for c in d]

    gardes = textes(markdown_._blocs_du_texte.memoire) + textes(markdown_._blocs.memoire) + textes(relecture._UNITES)
    presents = {i for i in range(n) if any(f"Zéphyr-{i:02d}" in t for t in gardes)}
    assert presents and presents <= set(range(n - 2 * f.CONSULTATIONS_PAR_TOUR - 1, n)), presents
    assert not any("Zéphyr" in str(c) for c in markdown_._blocs.memoire.gardees)
    assert any("titulaire" in str(c) for c in markdown_._blocs.memoire.gardees)  # clauses communes


def _lignes_par_article(blocs: list) -> dict[str, list[str]]:
    """Lecture de référence des lignes de chaque article (numéros de niveau 1 et 2), tous les blocs dans l'ordre."""
    from generateur.pieces import lecture
    from generateur.pieces.blocs import Titre
    textes: dict[str, list[str]] = {}
    courants: list[str] = []
    for b in blocs:
        numero = lecture.relecture.RE_NUMERO_TITRE.match(b.texte) if isinstance(b, Titre) else None
        if numero and b.niveau <= 2:
            courants = (courants[:1] if b.niveau == 2 else []) + [numero.group(1)]
            for n in courants:
                textes.setdefault(n, [])
            continue
        for n in courants:
            textes[n] += [ligne for ligne in lecture.texte_blocs([b]).split("\n") if ligne.strip()]
    return textes


def test_textes_des_articles_lus_a_la_demande(monkeypatch):
    """Les lignes des articles d'une pièce (faits des contrôles, preuves) lues à la demande : mêmes numéros, dans le
    même ordre, et mêmes lignes que la lecture de tous les blocs d'un coup, y compris un sous-article avant tout
    article, un numéro répété sous lui-même, des titres non numérotés ; seuls les blocs de l'article demandé sont
    lus, une fois."""
    from generateur.pieces import lecture
    from generateur.pieces.blocs import Paragraphe, Segment, Titre

    lire_tout = _lignes_par_article  # lecture de référence : tous les blocs, dans l'ordre

    def p(t):
        return Paragraphe([Segment(t)])

    blocs = [p("Préambule."), Titre(2, "1.1 – Avant tout article"), p("Un.\n\nDeux."), Titre(1, "Article 2 – Objet"),
             p("Trois."), Titre(2, "Sans numéro"), p("Quatre."), Titre(2, "2.1 – Détail"), p("Cinq."),
             Titre(3, "2.1.1 – Troisième niveau"), p("Six."), Titre(2, "2 – Même numéro"), p("Sept."),
             Titre(1, "Article 3 – Vide"), Titre(1, "Article 4 – Fin"), p("Huit.")]
    attendus = lire_tout(blocs)
    assert attendus["2"].count("Sept.") == 2  # le cas du numéro répété est bien essayé
    lus = lecture.TextesArticles(blocs)
    assert list(lus) == list(attendus) and len(lus) == len(attendus)
    assert dict(lus.items()) == attendus and lus == attendus
    assert lus.get("9", []) == [] and "9" not in lus
    lectures = []
    monkeypatch.setattr(lecture, "_texte_bloc", lambda b: lectures.append(b) or lecture._lire_bloc(b))
    lus = lecture.TextesArticles(blocs)
    assert "2.1" in lus and "9" not in lus and lectures == []
    assert lus["2.1"] == attendus["2.1"] and lus["2.1"] is lus.get("2.1")
    assert lectures == blocs[8:11]


def test_textes_des_blocs_gardes_memes_faits_que_sans_memoire(monkeypatch):
    """Le texte des blocs gardé sous leur identité (blocs des clauses, partagés) : les faits lus dans les pièces
    (textes des articles, lots, contenu des lots du CCTP, critères) sont ceux d'une lecture sans mémoire, pour des
    consultations qui se suivent ; les textes d'articles sont les lignes non vides de chaque bloc, titres numérotés
    exclus."""
    from generateur.droit.regles import preparer
    from generateur.pieces import lecture
    from generateur.pieces.assemblage import blocs_document

    def faits(exemple: str) -> tuple[dict, dict]:
        analyse = preparer(EXEMPLES / exemple, RACINE)
        corps = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
        return corps, lecture.faits_des_pieces(analyse, corps)

    memoires = (lecture._TEXTES_BLOCS, lecture._COMPARABLES, lecture._LOTS_NOMMES, lecture._LIGNES_DE_LOTS)
    for memoire in memoires:
        memoire.vider()
    suite = [(e, faits(e)) for e in ("travaux-lycee.yaml", "amp-espaces-verts.yaml", "travaux-lycee.yaml")]
    assert len(lecture._TEXTES_BLOCS) > 100 and all(len(memoire) > 10 for memoire in memoires)
    for memoire in memoires:
        monkeypatch.setattr(memoire, "maximum", 0)  # vidée à chaque bloc : aucun texte repris
    for exemple, (corps, gardes) in suite:
        assert faits(exemple)[1] == gardes
        for doc, blocs in corps.items():
            # texte comparable d'une pièce fait de celui de chaque bloc : celui de son texte entier
            assert lecture._comparable_blocs(blocs) == lecture._comparable(lecture.texte_blocs(blocs)), doc
            assert gardes["textes_articles"][doc] == _lignes_par_article(blocs), doc
    assert suite[0][1][1] == suite[2][1][1] != suite[1][1][1]


def test_empreintes_des_sections_gardees_suivent_le_catalogue(tmp_path):
    """Les empreintes des sections du catalogue (entrées du manifeste, qui décident des consultations concernées par
    un changement) calculées une fois par catalogue chargé : celles d'un calcul modifié changent (et elles seules),
    elles sont relues à l'identique pour le même catalogue, et celles rendues ne peuvent pas abîmer la mémoire."""
    import hashlib
    import json

    from generateur.pieces import tracabilite

    def calculees(cat) -> dict[str, str]:
        return {nom: hashlib.sha256(json.dumps(getattr(cat, nom), sort_keys=True, ensure_ascii=False,
                                               default=str).encode("utf-8")).hexdigest()
                for nom in ("documents", "calculs", "ccag")}

    ancien = "Valeur estimée du besoin : somme des montants estimés de tous les lots"
    racine = catalogue_modifie(tmp_path, ancien, ancien + " (modifiée)")
    original, modifie = catalogue.charger(RACINE), catalogue.charger(racine)
    for _ in range(2):
        for cat in (original, modifie):
            gardees = tracabilite._sections(cat)
            assert gardees == calculees(cat)
            gardees["calculs"] = "abîmée"  # une copie : la mémoire n'est pas touchée
    a, b = tracabilite._sections(original), tracabilite._sections(modifie)
    assert a["calculs"] != b["calculs"] and a["documents"] == b["documents"] and a["ccag"] == b["ccag"]


def test_memoire_par_objet_suit_l_objet_et_ses_dependances():
    """cache.ParObjet : un résultat est repris pour le même objet avec les mêmes dépendances (`aussi`, par identité),
    recalculé si une dépendance apparaît, change ou disparaît ; la mémoire est bornée."""
    from generateur.donnees import cache

    calculs: list[int] = []

    def calcul() -> int:
        calculs.append(1)
        return len(calculs)

    memoire = cache.ParObjet(2)
    objet, x, y = [1], object(), object()
    assert memoire.obtenir(objet, calcul) == memoire.obtenir(objet, calcul) == 1
    assert memoire.obtenir(objet, calcul, (x,)) == memoire.obtenir(objet, calcul, (x,)) == 2
    assert memoire.obtenir(objet, calcul, (y,)) == 3
    assert memoire.obtenir(objet, calcul, (y, x)) == 4
    assert memoire.obtenir(objet, calcul) == memoire.obtenir(objet, calcul) == 5
    assert memoire.obtenir([1], calcul) == 6  # un autre objet égal : son propre résultat
    memoire.obtenir([2], calcul)
    assert len(memoire) == 1  # pleine : vidée avant d'en garder un autre


def test_memoire_par_objet_ne_garde_pas_l_objet():
    """cache.ParObjet : l'entrée d'un objet (bloc propre à une consultation) s'en va avec lui au lieu de le garder en
    vie jusqu'à ce que la mémoire soit pleine : la mémoire d'un lot ne croît pas avec sa taille. Tant qu'il vit, son
    résultat est repris ; un objet sans référence faible possible (liste) est gardé par son entrée."""
    import gc
    import weakref

    from generateur.donnees import cache
    from generateur.pieces.blocs import Paragraphe, Segment

    memoire = cache.ParObjet(100)
    blocs = [Paragraphe([Segment(f"texte {i}")]) for i in range(10)]
    refs = [weakref.ref(b) for b in blocs]
    assert [memoire.obtenir(b, lambda b=b: b.segments[0].texte) for b in blocs] == [f"texte {i}" for i in range(10)]
    assert memoire.obtenir(blocs[3], lambda: "recalculé") == "texte 3" and len(memoire) == 10
    del blocs[5:]
    gc.collect()
    assert [r() is None for r in refs] == [False] * 5 + [True] * 5
    assert len(memoire) == 5
    assert memoire.obtenir(blocs[0], lambda: "recalculé") == "texte 0"
    liste = [1]
    assert memoire.obtenir(liste, lambda: "liste") == memoire.obtenir(liste, lambda: "autre") == "liste"


def test_memoire_disque_bornee_garde_les_entrees_les_plus_servies(tmp_path, monkeypatch):
    """cache.Memoire : le fichier, relu en entier par chaque commande, reste sous sa borne en octets ; au-delà, les
    entrées les plus servies par le processus qui l'écrit (textes communs aux consultations d'un lot) sont gardées,
    celles d'une seule consultation s'en vont. Un fichier trop grand (version antérieure) est réécrit borné."""
    import pickle
    import weakref

    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    fichier = tmp_path / "cache" / "memoires" / "essai-v1.pickle"
    memoire = cache.Memoire("essai", "v1", maximum=1000, octets=2000)
    memoire.ecrire((f"commun {i}", "x" * 50) for i in range(10))
    for _ in range(3):  # trois consultations : les textes communs servis à chacune, plus chacune les siens
        for i in range(10):
            assert memoire.lire(f"commun {i}") == "x" * 50
        memoire.ecrire((f"propre {_} {i}", "y" * 50) for i in range(40))
    memoire.enregistrer()
    gardees = pickle.loads(fichier.read_bytes())
    assert len(fichier.read_bytes()) <= 2000
    assert {f"commun {i}" for i in range(10)} <= set(gardees) and len(gardees) < 130
    fichier.write_bytes(pickle.dumps({f"ancien {i}": "z" * 50 for i in range(200)}))  # écrit sans borne
    relue = cache.Memoire("essai", "v1", maximum=1000, octets=2000)
    assert relue.lire("ancien 7") == "z" * 50
    relue.enregistrer()  # rien d'écrit par ce processus, mais le fichier dépasse sa borne
    assert len(fichier.read_bytes()) <= 2000 and pickle.loads(fichier.read_bytes()) == {"ancien 7": "z" * 50}


def test_memoire_de_la_consultation_garde_ce_que_ses_productions_ont_demande(tmp_path, monkeypatch):
    """cache.groupe : une valeur absente du fichier partagé d'une mémoire `par_consultation` est reprise du fichier de
    la consultation (désigné par le contenu de ses réponses), où ce qui est calculé pour elle est gardé ; une
    production suivante qui ne demande pas tout (le reste est dans la mémoire de son processus) n'en retire rien ;
    au-delà de ENTREES_GROUPE_MAX, seules les entrées servies restent. Une autre consultation, une mémoire qui n'est
    pas `par_consultation`, une production hors de `groupe` ou sans cache n'en voient rien."""
    import pickle
    import weakref

    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())

    def neuve(par_consultation: bool = True) -> cache.Memoire:  # fichier partagé jamais écrit : vide
        return cache.Memoire("essai", "v1", maximum=1000, par_consultation=par_consultation)

    def fichier(reponses: bytes) -> dict:
        contenu, _, complet = cache.lire_groupe(chemin(reponses).read_bytes())
        assert complet
        return contenu

    def chemin(reponses: bytes) -> Path:
        return tmp_path / "cache" / cache.GROUPES / f"{cache.empreinte(reponses)}.pickle"

    with cache.groupe(b"reponses A"):
        neuve().ecrire([("a", 1), ("b", 2)])
        neuve(par_consultation=False).ecrire([("commun", 0)])
    assert fichier(b"reponses A") == {"essai-v1": {"a": 1, "b": 2}}
    with cache.groupe(b"reponses A"):
        memoire = neuve()
        assert memoire.lire("a") == 1 and memoire.lire("commun") is None
        memoire.ecrire([("c", 3)])
    assert fichier(b"reponses A") == {"essai-v1": {"a": 1, "b": 2, "c": 3}}
    # la seule entrée nouvelle est ajoutée à la fin du fichier (une suite de pickles), qui n'est pas réécrit
    premiere = pickle.dumps({"essai-v1": {"a": 1, "b": 2}}, protocol=pickle.HIGHEST_PROTOCOL)
    assert chemin(b"reponses A").read_bytes() == premiere + pickle.dumps({"essai-v1": {"c": 3}},
                                                                         protocol=pickle.HIGHEST_PROTOCOL)
    # un ajout interrompu (suite tronquée) : ce qui précède est lu, puis le fichier est réécrit d'un bloc
    with chemin(b"reponses A").open("ab") as f:
        f.write(pickle.dumps({"essai-v1": {"z": 26}})[:-3])
    assert cache.lire_groupe(chemin(b"reponses A").read_bytes()) == ({"essai-v1": {"a": 1, "b": 2, "c": 3}}, 2, False)
    with cache.groupe(b"reponses A"):
        assert neuve().lire("b") == 2
    assert chemin(b"reponses A").read_bytes() == pickle.dumps({"essai-v1": {"a": 1, "b": 2, "c": 3}},
                                                              protocol=pickle.HIGHEST_PROTOCOL)
    # après SUITES_GROUPE_MAX ajouts, réécrit d'un bloc, sans doublons
    monkeypatch.setattr(cache, "SUITES_GROUPE_MAX", 3)
    for cle in ("d", "e", "f"):
        with cache.groupe(b"reponses A"):
            neuve().ecrire([(cle, cle)])
    assert fichier(b"reponses A") == {"essai-v1": {"a": 1, "b": 2, "c": 3, "d": "d", "e": "e", "f": "f"}}
    assert cache.lire_groupe(chemin(b"reponses A").read_bytes())[1] == 1
    with cache.groupe(b"reponses B"):
        assert neuve().lire("a") is None
    assert neuve().lire("a") is None  # hors de la production d'une consultation
    monkeypatch.setattr(cache, "ENTREES_GROUPE_MAX", 2)
    with cache.groupe(b"reponses A"):
        memoire = neuve()
        assert memoire.lire("c") == 3
        memoire.ecrire([("g", 4)])
    assert fichier(b"reponses A") == {"essai-v1": {"c": 3, "g": 4}}
    # au-delà de GROUPE_OCTETS_MAX octets : réécrit avec les seules entrées servies
    monkeypatch.setattr(cache, "ENTREES_GROUPE_MAX", 5000)
    monkeypatch.setattr(cache, "GROUPE_OCTETS_MAX", len(chemin(b"reponses A").read_bytes()) + 20)
    with cache.groupe(b"reponses A"):
        memoire = neuve()
        assert memoire.lire("g") == 4
        memoire.ecrire([("h", "x" * 100)])
    assert fichier(b"reponses A") == {"essai-v1": {"g": 4, "h": "x" * 100}}
    # réservée (régénération : production puis comparaison des versions) : la mémoire que la production ouvre reste
    # ouverte après elle, lue une fois, écrite une fois, à la fin de la réservation ; une autre ouverte ensuite dans la
    # réservation est la sienne, écrite à sa fin
    avant = chemin(b"reponses A").read_bytes()
    lectures: list[int] = []
    lire = cache.lire_groupe
    monkeypatch.setattr(cache, "lire_groupe", lambda octets: lectures.append(len(octets)) or lire(octets))
    with cache.memoire_reservee():
        assert neuve().lire("g") is None  # aucune production encore : aucune mémoire de consultation
        with cache.groupe(b"reponses A"):
            assert neuve().lire("g") == 4
        assert neuve().lire("h") == "x" * 100  # après la production, toujours ouverte
        neuve().ecrire([("i", 9)])
        assert cache.objet_de_consultation("essai-v1", "g", lambda: 0) == 4
        assert chemin(b"reponses A").read_bytes() == avant  # pas encore écrite
        with cache.groupe(b"reponses B"):
            neuve().ecrire([("j", 10)])
        assert neuve().lire("i") is None and neuve().lire("h") == "x" * 100  # de nouveau celle de A
    assert lectures == [len(avant), 0]  # A une fois ; B (absent) une fois, à son écriture
    assert fichier(b"reponses A") == {"essai-v1": {"g": 4, "h": "x" * 100, "i": 9}}
    assert fichier(b"reponses B") == {"essai-v1": {"j": 10}}
    with cache.memoire_reservee():  # une production qui échoue : rien d'écrit
        with pytest.raises(RuntimeError), cache.groupe(b"reponses C"):
            neuve().ecrire([("k", 11)])
            raise RuntimeError
    assert not chemin(b"reponses C").exists()
    monkeypatch.setenv("DCE_CACHE", "0")
    with cache.groupe(b"reponses A"):
        assert neuve().lire("c") is None


def test_memoire_des_motifs_pleine_garde_les_textes_des_pieces(monkeypatch):
    """La mémoire des motifs vidée parce que pleine garde ce qu'elle a lu des pièces relues (pas seulement leurs
    textes nouveaux) : mêmes correspondances qu'une mémoire neuve ; `trouves` lit lui-même les textes qui manquent."""
    from generateur.pieces import relecture

    analyse, pieces = _pieces_relues("travaux-lycee.yaml")
    regles = relecture.regles(analyse.catalogue)
    neuve = relecture.Memoire(regles, disque=False)
    neuve.lire(pieces)
    attendus = neuve.trouves(pieces)
    assert any(attendus)
    memoire = relecture.Memoire(regles, disque=False)
    memoire.lire({"RC": pieces["RC"]})
    monkeypatch.setattr(memoire, "MAXIMUM", len(memoire.lus) + 1)  # pleine à la lecture des autres pièces
    memoire.lire(pieces)
    assert memoire.trouves(pieces) == attendus
    assert relecture.Memoire(regles, disque=False).trouves(pieces) == attendus  # sans `lire` préalable


def test_blocs_d_un_texte_garde_rendus_dans_une_liste_neuve():
    """Les blocs d'un texte de clause sont gardés sous ce texte : chaque appel rend une liste neuve (l'appelant peut
    l'allonger), aux mêmes blocs que la conversion morceau par morceau."""
    from generateur.pieces.blocs import Paragraphe, Segment
    from generateur.pieces.markdown_ import _blocs, morceaux, vers_blocs

    texte = "Le titulaire **remet** un mémoire.\n\n| Lot | Montant |\n|---|---|\n| 1 | 10\u00a0€ |\n\n- un\n- deux"
    premiers = vers_blocs(texte)
    premiers.append(Paragraphe([Segment("ajouté par l'appelant")]))
    seconds = vers_blocs(texte)
    assert seconds is not premiers
    assert seconds == premiers[:-1] == [b for m in morceaux(texte) for b in _blocs(m)]


def _textes_du_prealable(prealable: re.Pattern) -> list[str]:
    """Des textes qui contiennent chaque suite d'un préalable, seule, en capitales, entourée de lettres ou d'espaces
    (le motif n'y trouve souvent rien : le préalable n'est pas suffisant, seulement nécessaire)."""
    suites = [re.sub(r"\\(.)", r"\1", re.sub(r"\[(.)[^]]*\]", r"\1", s)) for s in prealable.pattern.split("|")]
    return [t for s in suites for t in (s, s.upper(), f"a{s}b", f"Voir {s} 12 du CCAP.", f" {s} : ", f"{s}{s}")]


@pytest.mark.parametrize("exemple", sorted(p.name for p in EXEMPLES.glob("*.yaml")))
def test_motifs_cherches_dans_les_seuls_textes_ou_trouve_leur_prealable(exemple):
    """Un motif qui a un préalable (suites de caractères que toute correspondance contient, tirées de son arbre :
    `relecture._prealable`) n'est cherché que dans les textes où le préalable trouve : mêmes correspondances que
    cherché partout, sur les pièces d'un exemple, sur des textes qui contiennent le préalable sans correspondance, écrit
    autrement (capitales, pluriel) ou avec ; les renvois (qui essaient les noms des pièces à chaque position) et la
    plupart des motifs du catalogue en ont un."""
    from generateur.pieces import relecture

    analyse, pieces = _pieces_relues(exemple)
    textes = list(dict.fromkeys(u.texte for p in pieces.values() for u in p.unites)) + [
        "Voir l'ARTICLE 3 du CCAP.", "Les Articles 2 et 4 du RC.", "En annexe.", "L'annexe n° 2 au CCTP.",
        "Les performances fixées à l’article 2 du CCTP.", "article", "annexe", "Le présent CCAP, article 9.1.",
        "", "\n", "rc-", "ccap-objet", "le(s) titulaire(s)", "{'a': 1}", "[1, 2]", "None", "9999 mois", "**gras**",
        "à compléter", "XXXX", "Mot ; suite", "Mot; suite", "x == y", "par Direction", "droit.md", "a.py"]
    regles = relecture.regles(analyse.catalogue)
    memoire = relecture.Memoire(regles, disque=False)
    avec = [(r, m, p) for r, m, p in zip(regles, memoire.motifs, memoire.prealables) if p is not None]
    assert {r.verification for r, _, _ in avec} >= {"renvoi-article", "renvoi-annexe", "renvoi-contenu-article"}
    assert len([r for r, _, _ in avec if r.motif_texte is not None]) >= 8
    assert sum(fenetre for _, _, (_, fenetre) in avec) >= 8
    for r, motif, (prealable, fenetre) in avec:
        essais = textes + _textes_du_prealable(prealable)
        attendues = relecture._chercher(motif, essais)
        assert any(attendues), r.id
        for fin in (len(essais), len(essais) - 3, 5):  # dernier texte cherché, ou non
            assert relecture._chercher_parmi(motif, prealable, fenetre, essais[:fin]) == attendues[:fin], r.id
        joint, debuts = relecture.SEPARATEUR.join(essais), relecture._debuts(essais)
        assert relecture._chercher_parmi(motif, prealable, fenetre, essais, joint, debuts) == attendues, r.id
        assert relecture._chercher(motif, essais, joint, debuts) == attendues, r.id


# Motifs d'essai des préalables : groupes facultatifs, répétitions, alternatives (dont une vide), drapeaux d'un
# groupe, regards avant et arrière, casse ignorée (avec des lettres qui se replient sur d'autres : ſ, K, İ).
MOTIFS_D_ESSAI = [
    r"ab(?:cd)?ef", r"a(?:b|c)d", r"x{3,}", r"x{2}y", r"(?:ab|)cd", r"(?:ab|cd)+e", r"a?b", r"(?i)sk", r"(?i)\bkas\b",
    r"(?i:ab)cd", r"a(?i:b)c", r"(?<=a)bc(?=d)", r"(?<!a)b(?!c)d", r"[ab]c|d[ef]", r"\w\((?:s|es)\)", r"(a)b\1",
    r"(?:a|b\w)c", r"a.b", r"a|", r"(?:ab){2,3}c", r"[^a]b", r"\d+x", r"(?i)(?:ß|st)", r"(?i)i̇k|ıs", r"(?x) a b  c",
    r"(?:(?:ab|ac)d|e)f", r"a*?b", r"(?>ab)c", r"a{0}bc", r"(?P<n>ab)(?P=n)", r"(?(1)a|b)c", r"(a)?(?(1)b|c)",
    # regards et anchres aux bords d'un texte, motifs qui peuvent lire le séparateur (caractère nul)
    r"a(?=\s)", r"(?<=\S)a", r"(?<=\W\W)a", r"(?<![a-z]{3})b", r"a(?=[\s\S]*b)", r"a[^b]{0,6}c", r"\Aa", r"a\Z", r"a$",
    r"^a", r"a\s*$", r"a.{0,4}b", r"a\W+b", r"(?<=a(?=\s\S))\s", r"[\x00-z]a", r"a(?!\s*\S)", r"\ba\b",
]


def test_prealable_toujours_trouve_ou_le_motif_trouve(monkeypatch):
    """Le préalable tiré d'un motif est nécessaire : dans des milliers de textes tirés au hasard parmi les caractères du
    motif, leurs autres casses et des caractères qui s'y replient, partout où le motif trouve, le préalable trouve ;
    `_chercher_parmi` rend ce que rend `_chercher` (mêmes textes voisins), texte par texte, y compris pour les motifs
    qui regardent au-delà des bords d'un texte. Un motif que l'analyseur ne sait pas lire n'a pas de préalable."""
    import random

    from generateur.pieces import relecture

    assert relecture._prealable(("(", 0)) is None  # motif invalide : pas de préalable (l'erreur est dite ailleurs)
    assert relecture._prealable(("[ab]c|d", 0)) is None  # déjà cherché vite (premier caractère connu)
    assert relecture._prealable(("\\bx{3,}", 0)) == (("xxx", 0), True)
    assert relecture._prealable(("\\bx[^y]", 0)) == (("x", 0), False)  # « [^y] » lit le caractère nul
    assert relecture._prealable(("(?<=\\S)x(?=\\s)", 0)) == (("x", 0), True)  # en arrière : ne compte pas
    # préalables tirés même quand ils ne gagneraient rien : c'est leur justesse qui est essayée ici
    monkeypatch.setattr(relecture, "_debut_connu", lambda noeuds: False)
    monkeypatch.setattr(relecture, "ALTERNATIVES_LENTES", 99)
    alea = random.Random(22)
    avec = 0
    for motif_texte in MOTIFS_D_ESSAI:
        for drapeaux in (0, re.IGNORECASE):
            source = (motif_texte, drapeaux | re.MULTILINE)
            trouve = relecture._prealable(source)
            if trouve is None:
                continue
            avec += 1
            prealable, fenetre = trouve
            motif, filtre = re.compile(*source), re.compile(*prealable)
            lettres = sorted({c for c in motif_texte if c.isalnum()} | {c.upper() for c in motif_texte if c.isalnum()}
                             | set("ſKİıß() \n-:"))
            textes = ["".join(alea.choice(lettres) for _ in range(alea.randrange(0, 9))) for _ in range(3000)]
            for t in textes:
                if motif.search(t):
                    assert filtre.search(t), (motif_texte, drapeaux, prealable, t)
            for _ in range(300):  # des lots de textes, où le motif trouve rarement
                lot = [t for t in alea.sample(textes, alea.randrange(1, 12)) if alea.random() < 0.3 or not filtre.search(t)]
                assert relecture._chercher_parmi(motif, filtre, fenetre, lot) == relecture._chercher(motif, lot), source
            assert relecture._chercher_parmi(motif, filtre, fenetre, textes) == relecture._chercher(motif, textes)
    assert avec >= 60


def test_motifs_sans_analyseur_cherches_partout(monkeypatch):
    """Sans l'analyseur du module `re` (autre version de Python), aucun préalable : chaque motif est cherché partout,
    mêmes correspondances."""
    from generateur.pieces import relecture

    analyse, pieces = _pieces_relues("travaux-lycee.yaml")
    regles = relecture.regles(analyse.catalogue)
    attendus = relecture.Memoire(regles, disque=False).trouves(pieces)

    def casse(*args):
        raise AttributeError("parse")

    monkeypatch.setattr(relecture._sre_analyse, "parse", casse)
    sans = relecture.Memoire(regles, disque=False)
    assert sans.trouves(pieces) == attendus and sans.prealables == [None] * len(regles)
    # modules de l'analyseur absents (import impossible dans une autre version de Python) : de même
    monkeypatch.setattr(relecture, "_sre_analyse", None)
    monkeypatch.setattr(relecture, "_sre_c", None)
    sans = relecture.Memoire(regles, disque=False)
    assert sans.trouves(pieces) == attendus and sans.prealables == [None] * len(regles)


def test_motif_au_bord_d_un_texte_cherche_comme_parmi_tous():
    """Un motif qui regarde au-delà du bord d'un texte (« Prix: » : deux-points suivi d'un blanc, que le séparateur
    fournit à tout texte sauf le dernier) trouve, texte par texte, ce qu'il trouvait cherché parmi tous les textes
    nouveaux, que le texte soit le dernier de ceux où le préalable trouve ou non."""
    from generateur.pieces import relecture

    source = (r"(?<=\S) [:;!?](?=\s|$)|(?<=[^\W\d])[:;!?](?=\s)", re.MULTILINE)
    (prealable, fenetre), motif = relecture._prealable(source), re.compile(*source)
    assert fenetre
    for textes in (["Prix:", "sans ponctuation"], ["a", "Prix:", "b"], ["Prix:"], ["x", "Prix :", "Prix:", "y"]):
        attendues = relecture._chercher(motif, textes)
        assert relecture._chercher_parmi(motif, re.compile(*prealable), fenetre, textes) == attendues


def test_csv_de_l_annexe_ecrit_comme_le_module_csv(monkeypatch):
    """Le CSV de l'annexe, écrit sans le module csv (`annexe._ligne`), a les octets qu'écrit csv.DictWriter
    (« ; », fins de ligne CRLF, guillemets minimaux et doublés, None vide, autres valeurs par str), cellules qui
    commencent comme une formule précédées d'une apostrophe ; une colonne inconnue reste une erreur."""
    import csv
    import inspect
    import io
    import random

    from generateur.pieces import annexe

    class Reference(csv.DictWriter):  # l'écrivain d'avant : DictWriter, cellules neutralisées
        def writerow(self, ligne):
            formule = ("=", "+", "-", "@", "\t", "\r")
            return super().writerow({c: "'" + v if isinstance(v, str) and v[:1] in formule else v
                                     for c, v in ligne.items()})

    def reference_seule(ligne):
        tampon = io.StringIO()
        Reference(tampon, annexe.COLONNES_CSV, delimiter=";", lineterminator="\r\n").writerow(ligne)
        return tampon.getvalue()

    alea = random.Random(22)
    caracteres = list(";\"'\r\n\t =+-@,.a é«»\u00a0\u2028\x00\x1fZ")

    def valeur():
        genre = alea.randrange(6)
        if genre == 0:
            return alea.choice([None, True, False, 0, -3, 2.5, -0.0, 10**20])
        return "".join(alea.choice(caracteres) for _ in range(alea.randrange(0 if genre == 1 else 1, 12)))

    lignes = [{c: valeur() for c in annexe.COLONNES_CSV if alea.random() < 0.6} for _ in range(3000)]
    lignes += [{}, {"rubrique": ""}, {"rubrique": '"'}, {"detail": "a;b"}, {"preuve": "\r"}]
    tampon = io.StringIO()
    reference = Reference(tampon, annexe.COLONNES_CSV, delimiter=";", lineterminator="\r\n")
    reference.writeheader()
    for ligne in lignes:
        reference.writerow(ligne)
    with pytest.raises(TypeError, match="inconnue"):
        annexe._ligne(inconnue="x")
    # lignes écrites par colonnes nommées (`_ligne`, celles de csv_annexe), cellules déjà gardées ou non, mémoire
    # des cellules vidée en cours de route : mêmes octets
    assert tuple(inspect.signature(annexe._ligne).parameters) == annexe.COLONNES_CSV
    for au_plus in (annexe.CELLULES_AU_PLUS, 7):
        monkeypatch.setattr(annexe, "CELLULES_AU_PLUS", au_plus)
        for _ in range(2):
            assert annexe._ENTETE + "".join(annexe._ligne(**ligne) for ligne in lignes) == tampon.getvalue()
    assert annexe._ligne(detail=["liste"], version=True, article=1) == reference_seule(
        {"detail": ["liste"], "version": True, "article": 1})


def test_regles_de_relecture_verifiees_une_fois_memes_regles(tmp_path, monkeypatch):
    """La section `relecture` vérifiée (motifs compilés, exemple de chaque règle cherché) l'est une fois : le verdict
    favorable est gardé dans le cache disque ; ensuite, les règles lues sans vérification sont les mêmes que vérifiées,
    et une mémoire des motifs faite des unes trouve ce que trouve une mémoire faite des autres."""
    import weakref

    from generateur.donnees import cache, yaml_lignes
    from generateur.pieces import relecture

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    fichier = RACINE / "catalogue.yaml"
    doc = yaml_lignes.lire(fichier)
    cle = relecture._cle_verdict(relecture.SECTION, doc.donnees[relecture.SECTION], relecture.CODE_VERIFICATION)
    assert cle is not None and not cache.marque(relecture.VERIFIEES, cle)
    verifiees = relecture._regles_verifiees(doc, fichier)  # chemin lent : vérifie, puis garde le verdict
    assert cache.marque(relecture.VERIFIEES, cle)
    essayees = []
    monkeypatch.setattr(relecture, "appliquer", lambda r, p: essayees.append(r) or [])
    reprises = relecture._regles_verifiees(doc, fichier)  # chemin rapide : aucun exemple essayé
    assert essayees == []
    assert reprises == verifiees == relecture._regles(doc, fichier, verifier=False)
    assert [r.motif_texte for r in reprises] == [r.motif_texte for r in verifiees]
    assert any(r.motif_texte is not None for r in reprises) and any(r.motif_texte is None for r in reprises)
    _, pieces = _pieces_relues("travaux-lycee.yaml")
    attendus = relecture.Memoire(verifiees, disque=False).trouves(pieces)
    assert any(attendus) and relecture.Memoire(reprises, disque=False).trouves(pieces) == attendus


@pytest.mark.parametrize("ancien, nouveau, attendu", [
    ('exemple: "Le numéro SIRET de l’acheteur à indiquer est le ."', 'exemple: "Le numéro SIRET est connu."',
     "son exemple n'est pas détecté"),
    ('motif: "[ \\\\u00a0\\\\u202f][.,]', 'motif: "([ \\\\u00a0\\\\u202f][.,]', "motif invalide"),
])
def test_regles_de_relecture_modifiees_verifiees_de_nouveau(tmp_path, monkeypatch, ancien, nouveau, attendu):
    """Le verdict gardé ne vaut que pour le texte de la section : une règle modifiée (exemple qui n'est plus détecté,
    motif invalide) est vérifiée de nouveau, et l'erreur dite, même après le verdict favorable du texte d'avant."""
    import weakref

    from generateur.donnees import cache, yaml_lignes
    from generateur.erreurs import ErreurDonnees
    from generateur.pieces import relecture

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    relecture._regles_verifiees(yaml_lignes.lire(RACINE / "catalogue.yaml"), RACINE / "catalogue.yaml")
    fichier = catalogue_modifie(tmp_path, ancien, nouveau) / "catalogue.yaml"
    for _ in range(2):  # jamais gardée : l'erreur se redit
        with pytest.raises(ErreurDonnees) as exc:
            relecture._regles_verifiees(yaml_lignes.lire(fichier), fichier)
        assert attendu in str(exc.value)


def test_motifs_de_relecture_compiles_au_seul_texte_a_chercher(tmp_path, monkeypatch):
    """Une mémoire des motifs dont tous les textes sont dans la mémoire disque ne compile aucun motif, et trouve ce que
    trouve une mémoire qui cherche tout ; un texte nouveau les fait compiler et chercher."""
    import weakref

    from generateur.donnees import cache
    from generateur.pieces import relecture
    from generateur.pieces.blocs import Paragraphe, Segment

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    analyse, pieces = _pieces_relues("amp-espaces-verts.yaml")
    regles = relecture.regles(analyse.catalogue)
    attendus = relecture.Memoire(regles, disque=False).trouves(pieces)
    premiere = relecture.Memoire(regles)
    assert premiere.trouves(pieces) == attendus and premiere._motifs is not None
    premiere.disque.enregistrer()
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    seconde = relecture.Memoire(regles)  # relit la mémoire disque
    assert seconde.trouves(pieces) == attendus
    assert seconde._motifs is None and seconde._prealables is None
    nouvelle = dict(pieces, Essai=relecture.piece("Essai", [Paragraphe([Segment("Voir l'article 99 du CCAP.")])]))
    assert seconde.trouves(nouvelle) == relecture.Memoire(regles, disque=False).trouves(nouvelle)
    assert seconde._motifs is not None


def _motifs_des_controles(controles) -> list:
    motifs = []
    for c in controles:
        motifs += [*c.termes.values(), *c.motifs.values()]
        for m in c.mentions:
            motifs += [getattr(m, champ) for champ in croises.CLES_MENTION if getattr(m, champ) is not None]
    return list(dict.fromkeys(motifs))


def test_correspondances_des_controles_croises_gardees_comme_re_match(tmp_path, monkeypatch):
    """Une correspondance gardée (`croises.Trouve`, reprise de la mémoire disque) dit ce que dit le `re.Match` de la
    même recherche : début, fin, texte, groupes numérotés et nommés ; sur les textes des pièces d'un exemple et des
    exemples du catalogue, pour chaque motif des contrôles croisés."""
    import weakref

    from generateur.donnees import cache

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    monkeypatch.setattr(croises, "_DISQUE", [])
    monkeypatch.setattr(croises, "_TROUVES", {})
    analyse, pieces = _pieces_relues("travaux-lycee.yaml")
    controles = croises.controles(analyse.catalogue)
    textes = {u.texte for p in pieces.values() for u in p.unites}
    for c in controles:
        for essai in (c.exemple, c.correct):
            textes |= {u.texte for p in croises.pieces_d_exemple(essai).values() for u in p.unites}
    compares = 0
    for motif in _motifs_des_controles(controles):
        assert isinstance(motif, croises.Motif)
        for t in sorted(textes):
            gardes = croises._chercher(motif, t)  # cherché puis gardé, puis repris de la mémoire disque
            repris = croises._chercher(motif, t)
            attendus = list(re.finditer(motif.pattern, t))
            assert len(gardes) == len(repris) == len(attendus)
            for g, r, x in zip(gardes, repris, attendus):
                for y in (g, r):
                    assert (y.start(), y.end(), y.group(0), y.group(), y.groupdict()) == (
                        x.start(), x.end(), x.group(0), x.group(), x.groupdict())
                    assert [y.group(i) for i in range(1, len(x.groups()) + 1)] == list(x.groups())
                    assert all(y.group(nom) == x.group(nom) for nom in x.groupdict())
                compares += 1
    assert compares > 50


def test_controles_croises_memoire_disque_memes_defauts(tmp_path, monkeypatch):
    """Les contrôles croisés d'un processus neuf dont toutes les recherches sont dans la mémoire disque ne compilent
    aucun motif des mentions et donnent les défauts d'un processus sans cache ; un fichier de la mémoire abîmé est
    ignoré (mêmes défauts) ; un texte modifié est cherché de nouveau."""
    import weakref

    from generateur.donnees import cache

    def processus_neuf(dossier: str) -> None:
        monkeypatch.setenv("DCE_CACHE", dossier)
        monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
        monkeypatch.setattr(croises, "_DISQUE", [])
        monkeypatch.setattr(croises, "_TROUVES", {})
        monkeypatch.setattr(croises, "_LUS", {})

    analyse, pieces = _pieces_relues("travaux-lycee.yaml")

    def tout() -> list:  # défauts des pièces de l'exemple et des exemples fautifs du catalogue
        return croises.controler(analyse.catalogue, pieces) + [
            d for c in croises.controles(analyse.catalogue) for d in croises.appliquer(c, croises.pieces_d_exemple(c.exemple))]

    processus_neuf("0")
    attendus = tout()
    assert attendus
    processus_neuf(str(tmp_path / "cache"))
    assert tout() == attendus
    croises._disque().enregistrer()
    processus_neuf(str(tmp_path / "cache"))
    assert tout() == attendus
    mentions = [m for c in croises.controles(analyse.catalogue) for m in c.mentions if m.motif is not None]
    assert mentions and all(m.motif._compile is None for m in mentions)
    # un texte modifié : cherché, pas repris
    c = next(c for c in croises.controles(analyse.catalogue) if c.verification == "valeur-article")
    essai = croises.pieces_d_exemple(c.exemple)
    assert [d for d in croises.appliquer(c, essai) if d.regle == c.id]
    croises._disque().enregistrer()
    processus_neuf(str(tmp_path / "cache"))
    c = next(c for c in croises.controles(analyse.catalogue) if c.verification == "valeur-article")
    assert croises.appliquer(c, croises.pieces_d_exemple(c.correct)) == []
    assert [d for d in croises.appliquer(c, essai) if d.regle == c.id]
    # fichier abîmé : ignoré
    for fichier in (tmp_path / "cache" / "memoires").glob("croises-*.pickle"):
        fichier.write_bytes(fichier.read_bytes()[:100])
    processus_neuf(str(tmp_path / "cache"))
    assert tout() == attendus


def test_controles_croises_verifies_une_fois_memes_controles(tmp_path, monkeypatch):
    """La section `controles_croises` vérifiée une fois (verdict gardé) : les contrôles lus ensuite sans vérification
    sont ceux que donne la vérification ; un contrôle modifié (exemple qui n'est plus détecté) est vérifié de nouveau."""
    import weakref

    from generateur.donnees import cache, yaml_lignes
    from generateur.erreurs import ErreurDonnees
    from generateur.pieces import relecture

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    fichier = RACINE / "catalogue.yaml"
    doc = yaml_lignes.lire(fichier)

    def lire(doc, fichier):
        return relecture.section_verifiee(doc, fichier, croises.SECTION, croises._regles, croises.__file__,
                                          *relecture.CODE_VERIFICATION)

    verifies = lire(doc, fichier)
    essayes = []
    monkeypatch.setattr(croises, "appliquer", lambda c, p: essayes.append(c) or [])
    repris = lire(doc, fichier)
    assert essayes == [] and repris == verifies == croises._regles(doc, fichier, verifier=False)
    racine = catalogue_modifie(tmp_path, "fixées à l’article 3.1 du CCAP.", "fixées à l’article 3.3 du CCAP.")
    for _ in range(2):
        with pytest.raises(ErreurDonnees, match="son exemple n'est pas détecté"):
            lire(yaml_lignes.lire(racine / "catalogue.yaml"), racine / "catalogue.yaml")


def test_controles_croises_processus_de_calcul_sans_memoire_disque(tmp_path, monkeypatch):
    """Dans un processus de calcul d'un lot (forké : pas celui qui a importé le module), les contrôles croisés ne lisent
    ni ne créent la mémoire disque des correspondances (elle coûtait ≈ 10 Mio par processus) et donnent les défauts du
    processus principal, qui, lui, la remplit."""
    import weakref

    from generateur.donnees import cache

    def processus_neuf(pid: int) -> None:
        monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
        monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
        monkeypatch.setattr(croises, "_DISQUE", [])
        monkeypatch.setattr(croises, "_TROUVES", {})
        monkeypatch.setattr(croises, "_LUS", {})
        monkeypatch.setattr(croises, "_PROCESSUS", pid)

    analyse, pieces = _pieces_relues("travaux-lycee.yaml")
    processus_neuf(os.getpid())  # processus principal : cherche et garde
    attendus = croises.controler(analyse.catalogue, pieces)
    assert croises._DISQUE and croises._DISQUE[0].entrees()
    processus_neuf(os.getpid() + 1)  # processus de calcul : cherche seulement
    assert croises.controler(analyse.catalogue, pieces) == attendus
    assert croises._DISQUE == []
    trouves = [x for lus in croises._TROUVES.values()
               for d in (lus.gardees, lus.vieilles, lus.nouvelles, lus.passees, lus.anciennes) for t in d.values()
               for x in t]
    assert trouves and all(isinstance(x, re.Match) for x in trouves)


def test_prealables_gardes_dans_le_cache_disque(tmp_path, monkeypatch):
    """Les préalables tirés des motifs sont gardés dans le cache disque : une autre mémoire des mêmes motifs les relit
    sans les tirer, les mêmes ; un fichier abîmé est recalculé ; d'autres motifs ont les leurs."""
    import weakref

    from generateur.donnees import cache
    from generateur.pieces import relecture

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MEMOIRES", weakref.WeakSet())
    analyse, _ = _pieces_relues("amp-espaces-verts.yaml")
    regles = relecture.regles(analyse.catalogue)
    attendus = relecture.Memoire(regles, disque=False).prealables
    assert relecture.Memoire(regles).prealables == attendus
    fichiers = list((tmp_path / "cache" / relecture.PREALABLES).iterdir())
    assert len(fichiers) == 1
    vrai = relecture._prealable
    monkeypatch.setattr(relecture, "_prealable", lambda source: pytest.fail("tiré de nouveau"))
    assert relecture.Memoire(regles).prealables == attendus
    fichiers[0].write_bytes(b"abime")
    monkeypatch.setattr(relecture, "_prealable", vrai)
    assert relecture.Memoire(regles).prealables == attendus
    autres = [r for r in regles if r.motif_texte is not None][:3]
    assert relecture.Memoire(autres).prealables == relecture.Memoire(autres, disque=False).prealables
    assert len(list((tmp_path / "cache" / relecture.PREALABLES).iterdir())) == 2


@pytest.mark.parametrize("exemple", ["travaux-lycee.yaml", "restauration-lycees.yaml"])
def test_piece_donnee_par_son_resume_memes_defauts(exemple):
    """Relecture pièce par pièce (`relecture.Resume`) : chaque pièce qui peut l'être (`relecture.resumable`), donnée
    par son résumé au lieu de ses unités, laisse les mêmes défauts, dans le même ordre ; de même pour les contrôles
    croisés avec une pièce qu'ils ne lisent pas. Une pièce d'essai ajoutée porte des défauts de chaque sorte (motif,
    formes mêlées, renvois vers un article et une annexe absents du CCAP) : ses renvois sont revérifiés contre les
    autres pièces, et un CCAP dont les articles changent change ses défauts."""
    from generateur.pieces import relecture

    analyse, pieces = _pieces_relues(exemple)
    cat = analyse.catalogue
    article = "Article 1 – Essai"
    pieces["Essai"] = relecture.Piece("Essai", [relecture.Unite("Essai", article, article), relecture.Unite(
        "Essai", article, "Voir l'article 99 du CCAP et l'annexe 2 du CCAP ; l'article 1 du CCAP s'applique. "
        "{{ montant }} à compléter."), relecture.Unite("Essai", article, "L’acheteur et l’acheteur.")], {"1"},
        titres=[article])
    complet = relecture.relire(cat, pieces)
    regles_essai = {d.regle for d in complet if d.piece == "Essai"}
    assert {"renvoi-article-absent", "syntaxe-jinja", "apostrophes-melees"} <= regles_essai
    resumables = [n for n in pieces if relecture.resumable(cat, n)]
    # « renvoi-contenu-article » lit les textes des articles du RC, du CCAP et du CCTP : ils sont relus en entier
    assert set(resumables) == {"Fiche de traçabilité", "Essai"}
    for nom in resumables:
        assert relecture.relire(cat, {**pieces, nom: relecture.resumer(cat, pieces[nom])}) == complet, nom
    tous = {n: relecture.resumer(cat, p) if n in resumables else p for n, p in pieces.items()}
    assert relecture.relire(cat, tous) == complet
    croises_complets = croises.controler(cat, pieces)
    for nom in pieces:
        if not croises.lit(cat, nom):
            assert croises.controler(cat, {**pieces, nom: relecture.resumer(cat, pieces[nom])}) == croises_complets
    assert croises.lit(cat, "CCAP") and not croises.lit(cat, "Fiche de traçabilité")
    # le résumé de l'essai, gardé ; le CCAP gagne un article 99 : le renvoi vers lui n'est plus un défaut
    resume = relecture.resumer(cat, pieces["Essai"])
    ccap = pieces["CCAP"]
    plus = relecture.Piece("CCAP", ccap.unites, ccap.articles | {"99"}, ccap.annexes, ccap.titres)
    attendu = relecture.relire(cat, {**pieces, "CCAP": plus})
    assert attendu != complet
    assert relecture.relire(cat, {**pieces, "CCAP": plus, "Essai": resume}) == attendu
