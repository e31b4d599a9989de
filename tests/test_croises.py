"""Contrôles croisés entre pièces (section `controles_croises` de catalogue.yaml) : chaque contrôle voit le défaut
qu'on injecte et se tait sur le texte correct ; sur les pièces réellement produites, une contradiction entre pièces
(durée de l'AE et article du CCAP, flux de tri, produits du commerce équitable, pénalité citée, jugement du prix,
renvoi au cadre des engagements) passe l'annexe « À vérifier » en citant les deux pièces ; les quatre exemples,
corrigés à la cause, n'en ont aucune."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXEMPLES, RACINE, copier_exemple, ecrire, reponses
from test_robustesse import _copie_catalogue as copie_catalogue, catalogue_modifie
from generateur.donnees import yaml_lignes
from generateur.droit.regles import preparer
from generateur.interfaces.cli import main
from generateur.pieces import croises, memoire
from generateur.pieces.assemblage import blocs_document
from generateur.pieces.lecture import controler, pieces_complementaires, texte_blocs

CONTROLES = (yaml_lignes.lire(RACINE / "catalogue.yaml").donnees or {})["controles_croises"]
IDS = {c["id"] for c in CONTROLES}
NBSP = "\u00a0"


def _controle(ident: str) -> croises.Controle:
    return next(c for c in croises._regles(yaml_lignes.lire(RACINE / "catalogue.yaml"), RACINE / "catalogue.yaml")
                if c.id == ident)


@pytest.mark.parametrize("donnee", CONTROLES, ids=[c["id"] for c in CONTROLES])
def test_chaque_controle_voit_le_defaut_injecte_et_pas_le_texte_correct(donnee):
    c = _controle(donnee["id"])
    defauts = croises.appliquer(c, croises.pieces_d_exemple(donnee["exemple"]))
    assert defauts and all(d.regle == c.id for d in defauts), defauts
    d = defauts[0]
    assert d.piece in donnee["exemple"] and d.libelle == " ".join(donnee["libelle"].split())
    assert d.bloquant is bool(donnee.get("bloquant")) and d.detail and d.extrait
    assert "correct" in donnee, "chaque contrôle croisé donne aussi le texte juste"
    assert croises.appliquer(c, croises.pieces_d_exemple(donnee["correct"])) == []


def test_les_defauts_citent_les_deux_pieces():
    """Le défaut est rangé à la pièce fautive et nomme, dans son détail, la pièce et l'article qui font foi."""
    flux = {c["id"]: c for c in CONTROLES}["liste-flux-dechets"]
    d = croises.appliquer(_controle("liste-flux-dechets"), croises.pieces_d_exemple(flux["exemple"]))[0]
    assert d.piece == "CCTP" and d.article == "Article 2 – Prescriptions techniques"
    assert "en mélange" in d.extrait
    assert d.detail.startswith(f"ne concorde pas avec CCAP, Article 5 – Exécution responsable{NBSP}: «")
    assert "ici en plus" in d.detail and "déchets non dangereux en mélange" in d.detail
    assert "papier et carton" in d.detail and "ici absents" in d.detail

    duree = {c["id"]: c for c in CONTROLES}["duree-lot-ae-ccap"]
    d = croises.appliquer(_controle("duree-lot-ae-ccap"), croises.pieces_d_exemple(duree["exemple"]))[0]
    assert d.piece == "Acte d'engagement – lot 1" and "14 mois" in d.extrait
    assert d.detail == f"CCAP, article 3.1 (texte){NBSP}: pas de 14 mois"


def test_controle_mal_ecrit_nomme_fichier_et_ligne(tmp_path):
    racine = copie_catalogue(tmp_path)
    texte = (RACINE / "catalogue.yaml").read_text(encoding="utf-8")
    texte = texte.replace("verification: renvoi-titre", "verification: renvoi-tire")
    texte = texte.replace("(?P<valeur>\\d+)", "(?P<nombre>\\d+)")
    (racine / "catalogue.yaml").write_text(texte, encoding="utf-8")
    resultat = CliRunner().invoke(main, ["--catalogue", str(racine), "catalogue", "verifier"])
    assert resultat.exit_code == 2, resultat.output
    assert "vérification « renvoi-tire » inconnue" in resultat.output
    assert "demande un « motif » aux groupes nommés valeur" in resultat.output
    assert "catalogue.yaml, ligne" in resultat.output and "controles_croises." in resultat.output

    # un contrôle dont l'exemple n'est plus vu (motif trop étroit) est refusé
    texte = (RACINE / "catalogue.yaml").read_text(encoding="utf-8").replace(
        "motif: 'durée d[''’]exécution du", "motif: 'durée de réalisation du")
    (racine / "catalogue.yaml").write_text(texte, encoding="utf-8")
    problemes = [str(p) for p in croises.verifier_regles(racine)]
    assert any("« duree-lot-ae-ccap » : son exemple n'est pas détecté" in p for p in problemes), problemes


# --- Les exemples : aucune contradiction entre pièces, y compris AE, cadre de mémoire et bordereau --------------


@pytest.mark.parametrize("exemple", ["travaux-lycee", "restauration-lycees", "nettoyage-hotel-region", "amp-espaces-verts"])
def test_exemples_sans_contradiction_entre_pieces(exemple):
    analyse = preparer(EXEMPLES / f"{exemple}.yaml", RACINE)
    conformite = controler(analyse, complementaires=True)
    assert not [d for d in conformite.defauts if d.regle in IDS], conformite.defauts


def test_travaux_durees_par_lot_un_seul_delai_et_le_bon_article():
    """RAPPORT T4 : l'AE de chaque lot donne la durée de ce lot et renvoie à l'article des délais par lot, qui la
    donne ; l'article de la durée dit que le délai de chaque lot est fixé là, le délai global étant distinct."""
    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    ccap = blocs_document(analyse, "CCAP")[0]
    texte_ccap = texte_blocs(ccap).replace(NBSP, " ")
    numero = re.search(r"^(\d+\.\d+) – Délais par lot", texte_ccap, re.M).group(1)
    assert f"Le délai d’exécution de chaque lot est fixé à l’article {numero} ; l’opération est achevée dans un " \
           f"délai global de" in texte_ccap
    complementaires = pieces_complementaires(analyse)
    for lot in analyse.contexte["lots"]:
        ae = texte_blocs(complementaires[f"Acte d'engagement – lot {lot['numero']}"]).replace(NBSP, " ")
        duree = re.search(r"La durée d’exécution du lot est de (\d+) mois, dans les conditions fixées à l’article "
                          r"(\d+(?:\.\d+)*) du CCAP", ae)
        assert duree and duree.group(2) == numero, ae
        assert re.search(rf"^{lot['numero']} \| [^|]+ \| {duree.group(1)}$", texte_ccap, re.M), (lot, duree.group(1))


def test_l_ae_qui_renvoie_au_mauvais_article_est_vu(monkeypatch):
    """Le défaut d'origine (AE « 14 mois … article 3.1 » quand 3.1 ne dit pas 14 mois) est vu sur les pièces
    produites et rangé à l'AE du lot, bloquant."""
    from generateur.pieces import acte_engagement

    analyse = preparer(EXEMPLES / "travaux-lycee.yaml", RACINE)
    monkeypatch.setattr(acte_engagement, "_renvoi_delai", lambda a: "l'article 3.1 du CCAP")
    vus = [d for d in controler(analyse, complementaires=True).defauts if d.regle == "duree-lot-ae-ccap"]
    assert {d.piece for d in vus} == {f"Acte d'engagement – lot {l['numero']}" for l in analyse.contexte["lots"]}
    assert all(d.bloquant and d.detail.startswith("CCAP, article 3.1 (texte)") for d in vus), vus


def test_flux_du_texte_du_maitre_d_oeuvre_contredisant_le_ccap_passe_l_annexe_a_verifier(tmp_path):
    """RAPPORT T5 : l'outil ne réécrit pas le texte technique importé ; s'il donne d'autres flux que le CCAP, `dce
    generer` le signale dans l'annexe (« À vérifier »), en citant le CCTP et le CCAP."""
    fichier = copier_exemple(EXEMPLES / "travaux-lycee.yaml", tmp_path / "travaux" / "travaux-lycee.yaml")
    texte_moe = tmp_path / "travaux" / "cctp" / "travaux-lycee-lot-1-gros-oeuvre.md"
    original = texte_moe.read_text(encoding="utf-8")
    assert "selon les flux fixés à l’article 5.1 du CCAP" in original
    texte_moe.write_text(original.replace(
        "selon les flux fixés à l’article 5.1 du CCAP",
        "en cinq flux au moins : inertes, bois, métaux, plâtre, déchets non dangereux en mélange"), encoding="utf-8")
    sortie = tmp_path / "sortie"
    resultat = CliRunner().invoke(main, ["--catalogue", str(RACINE), "generer", str(fichier), "-o", str(sortie)])
    assert resultat.exit_code == 0, resultat.output
    annexe = json.loads(next(sortie.glob("*-annexe-conformite.json")).read_text(encoding="utf-8"))
    vu = [d for d in annexe["relecture"] if d["regle"] == "liste-flux-dechets"]
    assert len(vu) == 1 and vu[0]["piece"] == "CCTP" and "en mélange" in vu[0]["extrait"]
    assert "CCAP, Article 5 – " in vu[0]["detail"] and "fractions minérales" in vu[0]["detail"]
    assert annexe["synthese"]["etat"] != "conforme"
    verdict = next(c for c in annexe["controles"] if c["id"] == "relecture-pieces")
    assert verdict["verdict"] == "a_verifier" and "CCTP" in verdict["constat"].split("pièces concernées")[1]
    # l'annexe Word cite les deux pièces : le CCTP fautif (pièce, extrait) et le CCAP qui fait foi (détail)
    from conftest import Lu

    lu = Lu(next(sortie.glob("*-annexe-conformite.docx")))
    ligne = next(l for t in lu.tableaux for l in t if len(l) == 5 and l[0] == "CCTP" and "en mélange" in l[3])
    assert "Flux de tri des déchets différents" in ligne[2] and "ne concorde pas avec CCAP, Article 5" in ligne[2]


def test_commerce_equitable_une_seule_liste(tmp_path):
    """RAPPORT R5 : CCAP, CCTP et cadre de mémoire reprennent les désignations d'un seul paramètre du catalogue ;
    le changer les change toutes ; un produit exigé que le bordereau ne chiffre pas est vu."""
    analyse = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    noms = analyse.contexte["param"]("commerce_equitable_produits")
    attendus = [noms[p] for p in analyse.contexte["spaser"]["commerce_equitable"]["produits"]]
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).split("\n")
    debut = next(i for i, l in enumerate(ccap) if l.startswith("Les produits des familles suivantes"))
    assert ccap[debut + 1: debut + 1 + len(attendus)] == attendus
    cctp = texte_blocs(blocs_document(analyse, "CCTP")[0]).replace(NBSP, " ").replace("\u202f", " ")
    assert [l.split(" | ")[0] for l in cctp.split("\n") if l.endswith(" | 100 %")] == attendus
    cadre = texte_blocs(memoire.blocs_cadre(analyse)[0]).split("\n")
    debut = next(i for i, l in enumerate(cadre) if l.startswith("Famille de produits | Produits proposés (référence"))
    assert [l.split(" | ")[0] for l in cadre[debut + 1: debut + 1 + len(attendus)]] == attendus

    racine = catalogue_modifie(tmp_path, 'cacao: "cacao et produits chocolatés"',
                                                         'cacao: "cacao en poudre et chocolat"')
    fichier = copier_exemple(EXEMPLES / "restauration-lycees.yaml", tmp_path / "r" / "restauration-lycees.yaml")
    autre = preparer(fichier, racine)
    for piece in (texte_blocs(blocs_document(autre, "CCAP")[0]), texte_blocs(blocs_document(autre, "CCTP")[0]),
                  texte_blocs(memoire.blocs_cadre(autre)[0])):
        assert "cacao en poudre et chocolat" in piece and "cacao et produits chocolatés" not in piece

    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    donnees["spaser"]["commerce_equitable"]["produits"].append("bananes")
    vus = [d for d in controler(preparer(ecrire(fichier.parent, donnees, "bananes.yaml"), RACINE),
                                complementaires=True).defauts if d.regle == "liste-commerce-equitable"]
    assert [d.piece for d in vus] == ["Bordereau des prix"] and f"ici absent{NBSP}: bananes" in vus[0].detail


def test_penalite_ecolabel_creee_au_ccap_quand_la_clause_est_retenue(tmp_path):
    """RAPPORT T9 : le CCTP renvoie aux pénalités du CCAP pour un produit non écolabellisé ; le CCAP a cette
    pénalité (montant du catalogue), qui vise l'article du CCTP ; sans clause écolabel, ni renvoi ni pénalité."""
    analyse = preparer(EXEMPLES / "nettoyage-hotel-region.yaml", RACINE)
    montant = analyse.contexte["param"]("penalite_ecolabel")
    article = analyse.selection("cctp-ecolabels").numero
    cctp = texte_blocs(blocs_document(analyse, "CCTP")[0])
    assert "sans préjudice des pénalités prévues par le CCAP" in cctp
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).replace(NBSP, " ")
    ligne = next(l for l in ccap.split("\n") if l.startswith("Produits écolabellisés"))
    assert f"| {article} du CCTP | {montant},00 € HT par référence de produit non conforme" in ligne

    sans = preparer(ecrire(tmp_path, reponses()), RACINE)
    assert not sans.selection("cctp-ecolabels").retenue
    assert "Produits écolabellisés" not in texte_blocs(blocs_document(sans, "CCAP")[0])


def test_livraison_tardive_forfait_exclusif_de_la_penalite_de_retard():
    """RAPPORT R7 : la pénalité forfaitaire de livraison tardive ne se cumule pas avec la pénalité de retard."""
    analyse = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).replace(NBSP, " ")
    retard = analyse.selection("ccap-penalites").numero
    assert f"Pour une même livraison, la pénalité de livraison tardive est exclusive de la pénalité de retard " \
           f"prévue à l’article {retard} : elles ne se cumulent pas." in ccap
    # en services, pas de livraison : les pénalités restent cumulables, sans phrase d'exclusion
    services = texte_blocs(blocs_document(preparer(EXEMPLES / "nettoyage-hotel-region.yaml", RACINE), "CCAP")[0])
    assert "exclusive de la pénalité de retard" not in services


@pytest.mark.parametrize("forme,attendu", [("forfaitaire", "de la DPGF"), ("unitaire", "du DQE")])
def test_jugement_du_prix_dit_pareil_au_rc_et_au_cadre(tmp_path, forme, attendu):
    """RAPPORT R14 : RC et cadre de mémoire nomment le même document de prix (calcul montant_jugement_prix)."""
    analyse = preparer(ecrire(tmp_path, reponses(prix={"forme": forme})), RACINE)
    rc = texte_blocs(blocs_document(analyse, "RC")[0]).replace(NBSP, " ")
    cadre = texte_blocs(memoire.blocs_cadre(analyse)[0]).replace(NBSP, " ")
    assert f"Le montant pris en compte est le montant total hors taxes {attendu}" in rc
    assert f"est jugé sur le montant total hors taxes {attendu} et n’appelle pas de réponse" in cadre
    assert "bordereau des prix et" not in cadre


def test_rc_cite_l_article_du_cadre_des_engagements():
    """RAPPORT C3 : le RC cite l'article du cadre de mémoire qui porte le cadre de réponse des engagements."""
    for exemple in ("travaux-lycee", "restauration-lycees"):
        analyse = preparer(EXEMPLES / f"{exemple}.yaml", RACINE)
        titres = [l for l in texte_blocs(memoire.blocs_cadre(analyse)[0]).split("\n")
                  if l.startswith("Article ") and "Engagements sociaux et environnementaux" in l]
        numero = re.match(r"Article (\d+) ", titres[0]).group(1)
        rc = texte_blocs(blocs_document(analyse, "RC")[0]).replace(NBSP, " ")
        citations = re.findall(r"cadre de réponse « Engagements sociaux et environnementaux », qui figure à "
                               r"l’article (\d+) du cadre de mémoire technique", rc)
        assert citations == [numero, numero], (exemple, citations, numero)


@pytest.mark.parametrize("nature", ["fournitures", "travaux"])
def test_lot_unique_a_duree_propre_le_ccap_dit_celle_de_l_ae(tmp_path, nature):
    """Trouvé par les fichiers tirés du questionnaire : un lot unique qui a sa propre durée (54 mois) dans une
    consultation de 68 mois ; l'AE disait 54, le CCAP 68. Le CCAP dit maintenant la durée du lot, et le contrôle
    croisé ne voit plus rien."""
    travaux = {"nature": "travaux", "categorie": "batiment", "cpv": "45000000-7",
               "objet": "Travaux de réfection des façades"} if nature == "travaux" else {}
    donnees = reponses(duree_mois=68, lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 120000,
                                              "duree_mois": 54}], **travaux)
    analyse = preparer(ecrire(tmp_path, donnees), RACINE)
    ae = texte_blocs(pieces_complementaires(analyse)["Acte d'engagement"]).replace(NBSP, " ")
    assert "La durée d’exécution du contrat est de 54 mois" in ae
    ccap = texte_blocs(blocs_document(analyse, "CCAP")[0]).replace(NBSP, " ")
    assert "68 mois" not in ccap and re.search(r"(?:durée|délai d’exécution du marché[^.]*?) (?:de|est de) 54 mois", ccap)
    assert not [d for d in controler(analyse, complementaires=True).defauts if d.regle == "duree-lot-ae-ccap"]


def test_renvoi_numerote_vers_un_article_qui_n_est_pas_de_penalites():
    """« la pénalité prévue à l'article 3 du CCAP » quand l'article 3 traite de la durée : vu ; le même renvoi sans
    « du CCAP » dans le CCTP vise un article du CCTP, hors de ce contrôle."""
    c = _controle("renvoi-penalite-absente")
    ccap = ["# Article 3 – Durée", "Le marché dure 12 mois.", "# Article 8 – Pénalités", "## 8.2 – Pénalités d’exécution",
            "Toute absence est sanctionnée."]
    vus = croises.appliquer(c, croises.pieces_d_exemple({
        "CCAP": ccap, "CCTP": ["# Article 4 – Essais", "Un essai manqué donne lieu à la pénalité prévue à l’article 3 du CCAP."]}))
    assert [(d.piece, d.detail) for d in vus] == [("CCTP", f"CCAP, article 3{NBSP}: ce n'est pas un article de pénalités")]
    assert croises.appliquer(c, croises.pieces_d_exemple({
        "CCAP": ccap, "CCTP": ["# Article 4 – Essais", "Un essai manqué donne lieu à la pénalité prévue à l’article 8.2 du CCAP.",
                               "Un autre, à la pénalité prévue à l’article 3."]})) == []
