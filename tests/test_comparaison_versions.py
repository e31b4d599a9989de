"""Texte des articles relu dans les pièces pour comparer deux versions : la lecture à la demande (`Articles`, corps
découpé sans analyse XML, articles identiques à l'octet non relus) donne exactement le texte de la lecture entière
(`textes_articles`), sur les pièces des exemples, sur des documents tirés au hasard (tableaux, zones de texte,
titres dans des tableaux, numéros répétés, faux titres) et sur ce qui sort de la forme simple ; la comparaison des
versions d'une consultation rapporte les mêmes changements avec ou sans elle."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RACINE
from generateur.lot import textes
from generateur.lot.rapport_changements import comparer, fichiers_generes, lire_manifeste
from generateur.lot.textes import Articles, TexteClause, textes_articles

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DEBUT = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{W_NS}" '
         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><w:body>')
FIN = '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'


def docx(xml: str | bytes) -> bytes:
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w") as z:
        z.writestr("word/document.xml", xml)
    return tampon.getvalue()


def lus(octets: bytes) -> dict[str, TexteClause]:
    return textes_articles(octets)


def memes_textes(octets: bytes, autres: tuple[str, ...] = ("1", "2.1", "999"), voisin: Articles | None = None,
                 ) -> Articles:
    """Chaque article (et des numéros absents) lu à la demande, au besoin en reprenant le découpage d'une version
    voisine, a le texte de la lecture entière."""
    complets, articles = lus(octets), Articles(octets, voisin=voisin)
    # découpage gardé puis repris (cache de la comparaison suivante) : mêmes textes, mêmes empreintes
    decoupage = articles.decoupage()
    repris = Articles(octets, decoupage=decoupage) if decoupage is not None else None
    for numero in [*complets, *autres]:
        assert articles.texte(numero) == complets.get(numero, TexteClause("", [])), numero
        if repris is not None:
            assert repris.empreinte(numero) == articles.empreinte(numero), numero
            assert repris.texte(numero) == complets.get(numero, TexteClause("", [])), numero
    return articles


def paragraphe(texte: str, style: str | None = None, attributs: str = "") -> str:
    proprietes = f'<w:pPr><w:pStyle w:val="{style}"/><w:keepNext/></w:pPr>' if style else ""
    runs = []
    for i, ligne in enumerate(texte.split("\n")):
        if i:
            runs.append("<w:br/>")
        for j, morceau in enumerate(ligne.split("\t")):
            runs.append(("<w:tab/>" if j else "") + f'<w:t xml:space="preserve">{escape(morceau)}</w:t>')
    return f"<w:p{attributs}>{proprietes}<w:r>{''.join(runs)}</w:r></w:p>"


def tableau(lignes: list[list[str]]) -> str:
    return ("<w:tbl><w:tblPr><w:tblW w:w=\"0\" w:type=\"auto\"/></w:tblPr>"
            + "".join("<w:tr>" + "".join(f"<w:tc>{c}</w:tc>" for c in ligne) + "</w:tr>" for ligne in lignes)
            + "</w:tbl>")


textes_libres = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                        | st.sampled_from(["\n", "\t", " ", "–", "&", "<", ">", '"']), max_size=12)
numeros = st.builds(lambda a, b: f"{a}" if b is None else f"{a}.{b}", st.integers(1, 4),
                    st.none() | st.integers(1, 3))
titre = st.builds(lambda n, t, article, style: paragraphe(f"{'Article ' if article else ''}{n} – {t}", style),
                  numeros, textes_libres, st.booleans(), st.sampled_from(["Heading1", "Heading2", "Heading1",
                                                                          "Heading3", "Normal"]))
simple = st.builds(paragraphe, textes_libres, st.none() | st.sampled_from(["ListBullet", "Heading1", "Normal"]),
                   st.sampled_from(["", ' w:rsidR="00A1B2C3"', " w:rsidR='a>b'"]))
cellule = simple | titre | st.just("<w:p/>")
elements = st.one_of(
    titre, titre, simple, simple, st.just("<w:p/>"), st.just('<w:p w:rsidR="00A1"/>'),
    st.builds(tableau, st.lists(st.lists(cellule, min_size=1, max_size=3), min_size=1, max_size=3)),
    st.builds(lambda t, dedans: tableau([[paragraphe(t) + tableau([[dedans]])]]), textes_libres, cellule),
    # zone de texte : un paragraphe (ici un titre) dans un paragraphe
    st.builds(lambda t, dedans: paragraphe(t).replace(
        "</w:r></w:p>", f"</w:r><w:r><w:pict><w:txbxContent>{dedans}</w:txbxContent></w:pict></w:r></w:p>"),
        textes_libres, titre),
    # style écrit avec une référence de caractère
    st.builds(lambda n: paragraphe(f"Article {n} – par référence", "Heading1").replace("Heading1", "Heading&#49;"),
              numeros),
)
hors_forme = st.sampled_from([
    "<!-- commentaire <w:p> -->", "<?instruction <w:p/>?>", '<w:bookmarkStart w:id="0" w:name="x"/>',
    f'<p xmlns="{W_NS}"><pPr><pStyle w:val="Heading1"/></pPr><r><t>Article 7 – sans préfixe</t></r></p>',
    "<w:sdt><w:sdtContent>" + paragraphe("Article 8 – dans un contrôle", "Heading1") + "</w:sdtContent></w:sdt>",
    "<w:customXml><w:p><w:r><w:t>x</w:t></w:r></w:p></w:customXml>",
])
separateurs = st.sampled_from(["", "", "\n", "\n  "])


@st.composite
def documents(draw, hors_forme_permis: bool = True) -> tuple[list[str], str]:
    liste = draw(st.lists(elements | (hors_forme if hors_forme_permis else elements), max_size=14))
    sep = draw(separateurs)
    return liste, sep


def assembler(liste: list[str], sep: str) -> bytes:
    return docx(DEBUT + sep + sep.join(liste) + sep + FIN)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_texte_a_la_demande_identique_a_la_lecture_entiere(doc):
    liste, sep = doc
    octets = assembler(liste, sep)
    memes_textes(octets)
    # avec une version voisine (ce document sans sa première moitié, ou sans ce qui sort de la forme simple)
    for voisine in (liste[len(liste) // 2:], [e for e in liste if e.startswith(("<w:p", "<w:tbl"))]):
        memes_textes(octets, voisin=Articles(assembler(voisine, sep)))
        memes_textes(assembler(voisine, sep), voisin=Articles(octets))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(hors_forme_permis=False), st.data())
def test_empreintes_egales_memes_textes(doc, data):
    """Une version voisine (un élément remplacé, ajouté ou retiré) : deux articles aux empreintes égales ont le même
    texte ; dans la forme simple qu'écrit dce, le corps est bien découpé (l'empreinte existe)."""
    liste, sep = doc
    autre = list(liste)
    i = data.draw(st.integers(0, len(autre)))
    choix = data.draw(st.sampled_from(["remplacer", "ajouter", "retirer"]))
    if choix == "ajouter" or not autre:
        autre.insert(i, data.draw(elements))
    elif choix == "remplacer":
        autre[min(i, len(autre) - 1)] = data.draw(elements)
    else:
        del autre[min(i, len(autre) - 1)]
    a, b = memes_textes(assembler(liste, sep)), memes_textes(assembler(autre, sep))
    depuis_b = memes_textes(assembler(liste, sep), voisin=b)  # l'ancienne version découpée depuis la nouvelle
    for numero in {*lus(assembler(liste, sep)), *lus(assembler(autre, sep)), "1"}:
        ea, eb = a.empreinte(numero), b.empreinte(numero)
        assert ea is not None and eb is not None
        assert depuis_b.empreinte(numero) == ea
        if ea == eb:
            assert a.texte(numero) == b.texte(numero)


def test_numero_repete_et_titres_hors_du_corps():
    """Un numéro repris plus loin prolonge le premier article (comme la lecture entière) ; un titre dans un tableau
    ou une zone de texte n'ouvre pas d'article."""
    corps = [paragraphe("Article 1 – Premier", "Heading1"), paragraphe("a"),
             tableau([[paragraphe("Article 2 – Dans un tableau", "Heading1")]]),
             paragraphe("Article 1 – Répété", "Heading1"), paragraphe("b\tc\nd"),
             paragraphe("e").replace("</w:r></w:p>", "</w:r><w:r><w:pict><w:txbxContent>"
                                     + paragraphe("Article 3 – Zone", "Heading1")
                                     + "</w:txbxContent></w:pict></w:r></w:p>")]
    octets = assembler(corps, "")
    articles = memes_textes(octets)
    assert set(lus(octets)) == {"1"}
    assert articles.texte("1").titre == "Premier"
    assert [ligne.texte for ligne in articles.texte("1").paragraphes] == [
        "a", "Article 2 – Dans un tableau", "b\tc\nd", "eArticle 3 – Zone"]


@pytest.mark.parametrize("ecart", [
    "<!-- x -->", '<w:bookmarkStart w:id="0" w:name="x"/>', "<w:sdt><w:sdtContent></w:sdtContent></w:sdt>"])
def test_hors_de_la_forme_simple_lu_en_entier(ecart):
    """Lu en entier, même quand une version voisine dans la forme simple ne diffère que par cet écart."""
    corps = [paragraphe("Article 1 – Un", "Heading1"), paragraphe("texte"), paragraphe("suite")]
    for octets in (assembler(corps[:1] + [ecart] + corps[1:], ""),
                   assembler(corps[:1] + [paragraphe("autre texte"), ecart] + corps[2:], "")):
        assert memes_textes(octets).empreinte("1") is None
        assert memes_textes(octets, voisin=memes_textes(assembler(corps, ""))).empreinte("1") is None


def test_entites_declarees_lu_en_entier():
    """Un style de titre écrit par une entité déclarée dans le DOCTYPE : le titre est trouvé comme par lxml."""
    doctype = '<!DOCTYPE w:document [<!ENTITY titre "Heading1">]>\n'
    xml = DEBUT.replace("?>\n", "?>\n" + doctype) + paragraphe("Article 1 – Un", "&titre;") + paragraphe("a") + FIN
    octets = docx(xml)
    assert lus(octets)["1"].titre == "Un"
    assert memes_textes(octets).empreinte("1") is None


def test_encodage_autre_que_utf8_lu_en_entier():
    xml = (DEBUT.replace("UTF-8", "windows-1252") + paragraphe("Article 1 – Éléments", "Heading1")
           + paragraphe("Périmètre") + FIN).encode("cp1252")
    assert memes_textes(docx(xml)).empreinte("1") is None
    assert lus(docx(xml))["1"].titre == "Éléments"


def test_document_mal_forme_refuse_comme_avant():
    """Un article mal formé n'est pas lu en silence : la lecture entière dit l'erreur, comme avant."""
    octets = assembler([paragraphe("Article 1 – Un", "Heading1"), "<w:p><w:r><w:t>x</w:r></w:p>"], "")
    with pytest.raises(Exception) as attendue:
        textes_articles(octets)
    with pytest.raises(type(attendue.value)):
        Articles(octets).texte("1")


def test_pieces_des_exemples(exemples_generes):
    """Chaque pièce Word des exemples est découpée sans analyse XML, et chaque article y a le texte de la lecture
    entière."""
    vues = 0
    for fichiers in exemples_generes.values():
        for nom, chemin in fichiers.items():
            if nom.endswith(".docx"):
                octets = chemin.read_bytes()
                articles = memes_textes(octets)
                assert articles.empreinte("1") is not None, nom
                vues += 1
    assert vues >= 20


# -- comparaison de deux versions d'une consultation ------------------------------------------------------------

def _remplacer_dans_docx(chemin: Path, avant: str, apres: str) -> None:
    with zipfile.ZipFile(chemin) as z:
        parties = {i: z.read(i) for i in z.namelist()}
    xml = parties["word/document.xml"].decode("utf-8")
    assert xml.count(avant) >= 1, avant
    parties["word/document.xml"] = xml.replace(avant, apres, 1).encode("utf-8")
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w", zipfile.ZIP_DEFLATED) as z:
        for nom, contenu in parties.items():
            z.writestr(nom, contenu)
    chemin.write_bytes(tampon.getvalue())


def _version(source: dict[str, Path], dossier: Path) -> Path:
    dossier.mkdir(parents=True)
    for chemin in source.values():
        shutil.copy(chemin, dossier / chemin.name)
    return dossier


def _reecrire_manifeste(dossier: Path) -> None:
    """Le manifeste reprend l'empreinte des pièces telles qu'elles sont (pièces « écrites par dce »)."""
    manifeste = next(dossier.glob("*-manifeste.json"))
    donnees = json.loads(manifeste.read_bytes())
    donnees["fichiers"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dossier.iterdir())
                           if p != manifeste}
    manifeste.write_text(json.dumps(donnees, ensure_ascii=False), encoding="utf-8")


def _changements(avant: Path, apres: Path, en_memoire: bool = False) -> list[tuple]:
    fichiers = (fichiers_generes(avant), fichiers_generes(apres)) if en_memoire else None
    clauses, valeurs, documents = comparer(lire_manifeste(avant), avant, lire_manifeste(apres), apres, RACINE,
                                           fichiers=fichiers)
    return [(c.id, c.nature, c.titre, c.ancien_article, c.nouvel_article, c.cause, c.anciens, c.nouveaux)
            for c in clauses] + [documents]


@pytest.mark.parametrize("retouche", ["dce", "main"])
def test_comparaison_identique_sans_decoupage(exemples_generes, tmp_path, monkeypatch, retouche):
    """Un article modifié dans le CCAP (par une génération de dce, ou à la main dans l'ancienne version, dont le
    manifeste ne garde pas cette empreinte) : les changements rapportés, textes compris, sont ceux de la lecture
    entière, et les mêmes quand les pièces sont prises dans les fichiers déjà en mémoire ; seul l'article modifié
    est rapporté."""
    fichiers = exemples_generes["travaux-lycee"]
    avant, apres = _version(fichiers, tmp_path / "avant"), _version(fichiers, tmp_path / "apres")
    ccap = next((avant if retouche == "main" else apres).glob("*-CCAP.docx"))
    with zipfile.ZipFile(ccap) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    numero, phrase = next((n, ligne.texte) for n, t in lus(ccap.read_bytes()).items() if "." in n
                          for ligne in t.paragraphes if f">{escape(ligne.texte)}<" in xml and len(ligne.texte) > 40)
    mot = next(m for m in phrase.split() if len(m) > 3 and m.isalpha())
    _remplacer_dans_docx(ccap, f">{escape(phrase)}<", f">{escape(phrase.replace(mot, mot.upper(), 1))}<")
    if retouche == "dce":
        _reecrire_manifeste(apres)
    rapides = _changements(avant, apres)
    assert _changements(avant, apres, en_memoire=True) == rapides  # pièces prises dans les fichiers déjà lus
    monkeypatch.setattr(textes, "_elements", lambda *args: None)
    assert rapides == _changements(avant, apres)
    modifiees = [c for c in rapides[:-1] if c[1] == "modifiée"]
    assert modifiees and {c[4] for c in modifiees} == {numero}
    assert any(mot.upper() in ligne.texte for c in modifiees for ligne in (c[6] + c[7]))


def test_reponses_modifiees_rapportees(exemples_generes):
    """Réponses égales : aucune réponse rapportée ; une réponse d'un lot modifiée (ou ajoutée) : elle seule l'est,
    par son chemin."""
    import copy

    from generateur.lot.rapport_changements import comparer_valeurs

    manifeste = lire_manifeste(next(iter(exemples_generes["restauration-lycees"].values())).parent)
    assert not [v for v in comparer_valeurs(manifeste, copy.deepcopy(manifeste)) if v.genre == "réponse"]
    autre = copy.deepcopy(manifeste)
    ancien = autre["reponses"]["lots"][1]["intitule"]
    autre["reponses"]["lots"][1]["intitule"] = "Lot renommé"
    autre["reponses"]["lots"][0]["nouvelle_reponse"] = 3
    changees = [(v.nom, v.ancienne, v.nouvelle) for v in comparer_valeurs(manifeste, autre) if v.genre == "réponse"]
    assert changees == [("lots[1].nouvelle_reponse", None, 3), ("lots[2].intitule", ancien, "Lot renommé")]


def test_lecture_du_manifeste_rend_le_ramasse_miettes_comme_avant(tmp_path):
    """Le manifeste est lu sans ramasse-miettes (voir lire_manifeste) ; il est remis dans son état, même après un
    manifeste illisible."""
    import gc

    (tmp_path / "x-manifeste.json").write_text('{"reponses": {"reference": "A"}}', encoding="utf-8")
    assert gc.isenabled()
    assert lire_manifeste(tmp_path) == {"reponses": {"reference": "A"}}
    assert gc.isenabled()
    (tmp_path / "x-manifeste.json").write_text("{pas du json", encoding="utf-8")
    with pytest.raises(ValueError):
        lire_manifeste(tmp_path)
    assert gc.isenabled()
    gc.disable()
    try:
        (tmp_path / "x-manifeste.json").write_text("{}", encoding="utf-8")
        assert lire_manifeste(tmp_path) == {}
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_decoupage_abime_refuse():
    """Un découpage gardé qui ne correspond pas aux octets (entrée de cache abîmée) n'est pas repris : le document
    est découpé de nouveau."""
    corps = [paragraphe("Article 1 – Un", "Heading1"), paragraphe("texte"), paragraphe("Article 2 – Deux", "Heading1")]
    octets = assembler(corps, "")
    taille, positions, longueurs, titres = Articles(octets).decoupage()
    for abime in [(taille + 1, positions, longueurs, titres), (taille, positions[8:], longueurs, titres),
                  (taille, positions, longueurs, ((99, ("1", "Un")),)), (taille, positions, longueurs[:-1] + b"x", titres),
                  (taille, positions, longueurs, "rien")]:
        assert memes_textes(octets).texte("1") == Articles(octets, decoupage=abime).texte("1")
    assert Articles(octets, decoupage=(taille, positions, longueurs, ())).texte("1") != memes_textes(octets).texte("1")


def test_decoupage_de_la_version_precedente_repris_du_cache(exemples_generes, tmp_path, monkeypatch):
    """Trois versions du CCAP, chacune écrite par dce : la comparaison de la deuxième à la troisième reprend le
    découpage de la deuxième, gardé dans le cache par la comparaison précédente (aucun document découpé en entier), et
    rapporte exactement ce que rapporte une comparaison sans cache."""
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    fichiers = exemples_generes["travaux-lycee"]
    versions = [_version(fichiers, tmp_path / f"v{i}") for i in range(3)]
    ccap = next(versions[0].glob("*-CCAP.docx"))
    with zipfile.ZipFile(ccap) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    phrases = [ligne.texte for n, t in lus(ccap.read_bytes()).items() if "." in n for ligne in t.paragraphes
               if f">{escape(ligne.texte)}<" in xml and len(ligne.texte) > 40]
    for i, phrase in enumerate((phrases[0], phrases[-1]), 1):  # un article au début, un autre à la fin
        for suivante in versions[i:]:
            _remplacer_dans_docx(next(suivante.glob("*-CCAP.docx")), f">{escape(phrase)}<",
                                 f">{escape(phrase)} (version {i})<")
        _reecrire_manifeste(versions[i])
    premiere = _changements(versions[0], versions[1])
    decoupes: list[Articles] = []
    monkeypatch.setattr(Articles, "_decouper", lambda self: decoupes.append(self) or False)
    seconde = _changements(versions[1], versions[2])
    assert not decoupes
    monkeypatch.undo()
    monkeypatch.setenv("DCE_CACHE", "0")
    assert (premiere, seconde) == (_changements(versions[0], versions[1]), _changements(versions[1], versions[2]))
    for changements, i in ((premiere, 1), (seconde, 2)):
        assert [c[1] for c in changements[:-1]] == ["modifiée"]
        assert any(f"(version {i})" in ligne.texte for ligne in changements[0][7])


@settings(max_examples=200, deadline=None)
@given(textes_libres, textes_libres)
def test_mots_d_une_seule_comparaison(ancien, nouveau):
    """Document des modifications : les morceaux d'un paragraphe modifié, pris de la comparaison des mots qui a donné
    leur ressemblance, sont ceux d'une comparaison refaite."""
    from difflib import SequenceMatcher

    from generateur.lot import redline

    comparaison = SequenceMatcher(None, redline._MOTS.findall(ancien), redline._MOTS.findall(nouveau), autojunk=False)
    comparaison.ratio()
    assert redline._mots(ancien, nouveau, comparaison) == redline._mots(ancien, nouveau)


EXEMPLES_YAML = sorted(p.stem for p in (RACINE / "exemples").glob("*.yaml"))


@pytest.mark.parametrize("exemple", EXEMPLES_YAML)
def test_decoupage_d_apres_l_assemblage(exemple, tmp_path, monkeypatch):
    """Le découpage d'un document qu'on vient d'assembler, tiré des longueurs de ses éléments (`decoupage_assemble`),
    est celui du même document découpé sur ses octets (mêmes positions, mêmes titres) et lit les textes de la lecture
    entière : chaque document Word d'un DCE (pièces, fiche et annexe : tableaux, listes, sommaire)."""
    from generateur.rendu import documents
    from generateur.rendu.generation import produire_dce

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    dce = produire_dce(RACINE / "exemples" / f"{exemple}.yaml", RACINE)
    vus = []
    for nom, octets in dce.contenus.items():
        plan = documents.assemblage(octets) if nom.endswith(".docx") else None
        if plan is None:
            continue
        vus.append(nom)
        xml = documents.corps_assemble(octets)
        decoupage = textes.decoupage_assemble(xml, *plan)
        assert decoupage is not None, nom
        assemble = Articles(octets, xml=xml, decoupage=decoupage, titres_a_lire=True)
        assert assemble.decoupage() == Articles(octets).decoupage(), nom
        complets = lus(octets)
        assert all(assemble.texte(n) == t for n, t in complets.items()), nom
    assert len(vus) == 5 and all(any(n.endswith(f"-{p}.docx") for n in vus) for p in ("RC", "CCAP", "CCTP"))


def test_decoupage_d_apres_l_assemblage_refuse_ce_qui_ne_correspond_pas(tmp_path, monkeypatch):
    """Un assemblage qui ne dit pas les octets du corps (longueur d'un élément fausse, emplacement inconnu du
    squelette) ne donne pas de découpage, ou un découpage refusé : le document est alors découpé sur ses octets."""
    from array import array

    from generateur.rendu import documents
    from generateur.rendu.generation import produire_dce

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    dce = produire_dce(RACINE / "exemples" / "travaux-lycee.yaml", RACINE)
    octets = next(o for n, o in dce.contenus.items() if n.endswith("-CCAP.docx"))
    xml, (squelette, longueurs) = documents.corps_assemble(octets), documents.assemblage(octets)
    corps = max(longueurs, key=lambda e: len(longueurs[e]))
    decales = dict(longueurs)
    decales[corps] = array("I", [longueurs[corps][0] + 1, longueurs[corps][1] - 1, *longueurs[corps][2:]])
    decoupage = textes.decoupage_assemble(xml, squelette, decales)  # même longueur totale, une limite déplacée
    assert decoupage is not None
    decoupes: list[Articles] = []
    decouper = Articles._decouper
    monkeypatch.setattr(Articles, "_decouper", lambda self: decoupes.append(self) or decouper(self))
    refuse = Articles(octets, xml=xml, decoupage=decoupage, titres_a_lire=True)
    assert decoupes and refuse.decoupage() == Articles(octets).decoupage()
    inconnu = {b"<w:p><w:r><w:t>autre</w:t></w:r></w:p>": longueurs[corps]}
    assert textes.decoupage_assemble(xml, squelette, inconnu) is None
    assert textes.decoupage_assemble(xml + b" ", squelette, longueurs) is None


def test_premiere_comparaison_decoupe_la_nouvelle_version_d_apres_son_assemblage(tmp_path, monkeypatch):
    """Première comparaison (aucun découpage gardé) d'une pièce écrite par dce avec sa nouvelle version qu'on vient
    d'assembler (un paragraphe retiré au milieu) : aucune des deux n'est découpée en entier — la nouvelle l'est
    d'après son assemblage, l'ancienne reprend son découpage là où leurs octets sont identiques — et chacune a le
    découpage et les textes de la lecture entière."""
    from generateur.droit.regles import preparer
    from generateur.lot.rapport_changements import _decouper_versions
    from generateur.pieces.assemblage import blocs_document
    from generateur.pieces.blocs import Paragraphe
    from generateur.rendu import documents, generation

    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    analyse = preparer(RACINE / "exemples" / "restauration-lycees.yaml", RACINE)
    blocs, titres = blocs_document(analyse, "CCAP")
    modele, variables = generation.modele_de(analyse, "CCAP"), generation.variables_modele(analyse, "CCAP", "CCAP")
    vieux = bytes(bytearray(documents._produire(modele, variables, blocs, titres)))  # comme relu du disque
    milieu = [i for i, b in enumerate(blocs) if isinstance(b, Paragraphe)][len(blocs) // 4]
    neuf = documents._produire(modele, variables, blocs[:milieu] + blocs[milieu + 1:], titres)
    assert documents.assemblage(neuf) is not None and documents.assemblage(vieux) is None
    decoupes: list[Articles] = []
    decouper = Articles._decouper
    monkeypatch.setattr(Articles, "_decouper", lambda self: decoupes.append(self) or decouper(self))
    nom = "X-CCAP.docx"
    avant, apres = _decouper_versions(
        (nom, vieux), (nom, neuf), {"fichiers": {nom: hashlib.sha256(vieux).hexdigest()}},
        {"fichiers": {nom: hashlib.sha256(neuf).hexdigest()}})
    assert not decoupes
    monkeypatch.undo()
    for articles, octets in ((avant, vieux), (apres, neuf)):
        assert articles.decoupage() == Articles(octets).decoupage()
        complets = lus(octets)
        assert len(complets) > 5 and all(articles.texte(n) == t for n, t in complets.items())
    assert lus(vieux) != lus(neuf)


def test_clauses_des_deux_manifestes_decodees_une_fois(tmp_path):
    """Les clauses des deux manifestes d'une consultation : une entrée du nouveau écrite comme celle de même rang de
    l'ancien en reprend la valeur (même objet), les autres sont décodées ; le tout vaut la section décodée d'un coup,
    y compris pour des manifestes écrits à la main (tableau imbriqué à la même indentation, une seule ligne, entrées
    ajoutées ou retirées), qui sont alors décodés d'un coup."""
    from generateur.donnees.fichiers import json_lisible
    from generateur.lot.rapport_changements import _manifeste, clauses_des_deux

    def clause(i: int, version: int = 1) -> dict:
        return {"id": f"c{i}", "version": version, "article": str(i), "retenue": i % 2 == 0,
                "reponses_lues": {"forme": "marche", "lots": [1, 2]}, "liens_spaser": [{"action": "1.1", "niveau": 2}]}

    anciennes = [clause(i) for i in range(6)]
    cas = [anciennes, anciennes[:3] + [clause(3, 2)] + anciennes[4:], anciennes[:5], [clause(9)] + anciennes, [],
           [{**clause(0), "note": "}\n    },\n    {"}] + anciennes[1:]]
    for nouvelles in cas:
        for avant in (anciennes, nouvelles):
            ancien = _manifeste(json_lisible({"outil": {}, "clauses": avant}))
            nouveau = _manifeste(json_lisible({"outil": {}, "clauses": nouvelles}))
            a, n = clauses_des_deux(ancien, nouveau)
            assert (a, n) == (avant, nouvelles) and n is nouveau["clauses"] and a is ancien["clauses"]
            if avant is anciennes and len(nouvelles) == len(anciennes):
                assert [x is y for x, y in zip(a, n)] == [x == y for x, y in zip(avant, nouvelles)]
    # écrits à la main : un tableau d'objets imbriqué à quatre espaces, ou tout sur une ligne
    imbrique = (b'{\n  "clauses": [\n    {\n      "id": "c0", "l": [\n    {\n      "a": 1\n    },\n    {\n'
                b'      "b": 2\n    }\n      ]\n    }\n  ]\n}\n')
    for brut in (imbrique, json_lisible({"clauses": anciennes}).replace(b"\n", b"")):
        attendu = json.loads(brut)["clauses"]
        for autre in (json_lisible({"clauses": anciennes}), brut):
            a, n = clauses_des_deux(_manifeste(autre), _manifeste(brut))
            assert n == attendu and a == json.loads(autre)["clauses"]
