"""Le squelette d'un document Word rendu sans docxtpl ni python-docx (`documents._squelette_direct`, module
`rendu_direct`) a, pour chaque modèle et toutes sortes de variables, les octets du rendu par docxtpl et python-docx
(`documents._squelette_docxtpl`) ; ce que le rendu direct ne sait pas refaire (logo, tableau que docxtpl corrige,
propriétés du document à balises) est rendu par docxtpl, mêmes octets."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from conftest import RACINE
from generateur.rendu import documents

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MODELE = RACINE / "modeles" / "dce.docx"


def _variables(**autres) -> dict:
    variables = {nom: f"Valeur de {nom}" for nom in documents.VARIABLES_MODELE}
    variables.update(acheteur_adresse=["1, place de la Mairie", "34000 Montpellier"], logo=None)
    variables.update(autres)
    return variables


SPECIAUX = "A & B < C > D \"E\" 'F' — « G » {{ reference }} {% if %} }}"
# des variables variées : caractères à échapper, accolades de Jinja, adresse en liste (vide, d'une ligne, avec une
# ligne vide), champs vides, tabulation et retour à la ligne dans un champ, caractères de contrôle, champs longs
VARIABLES = {
    "ordinaires": _variables(),
    "speciaux": _variables(**{n: f"{SPECIAUX} {n}" for n in documents.VARIABLES_MODELE if n not in ("acheteur_adresse",
                                                                                                    "logo")},
                           acheteur_adresse=[SPECIAUX, "<34000> Montpellier & environs", "", "dernière ligne"]),
    "vides": _variables(**{n: "" for n in documents.VARIABLES_MODELE if n not in ("acheteur_adresse", "logo")},
                        acheteur_adresse=[]),
    "une_ligne": _variables(acheteur_adresse=["Hôtel de région"], objet="Objet\tavec tabulation\net retour",
                            acheteur_nom_court="Nom\tcourt\fpage",
                            reference="2026-\x01\x0bREF\r"),
    "longs": _variables(titre_document="T" * 300, objet="O" * 400, acheteur_nom="N" * 256, reference="R" * 40),
}


def _modele(tmp_path: Path, nom: str, changements: dict[str, tuple[str, str]], ajouts: dict[str, str] | None = None
            ) -> Path:
    """dce.docx avec, dans chaque partie, un texte remplacé par un autre (il doit y être), et des parties ajoutées."""
    sortie = io.BytesIO()
    with zipfile.ZipFile(MODELE) as source, zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as cible:
        for partie in source.namelist():
            contenu = source.read(partie).decode("utf-8")
            if partie in changements:
                avant, apres = changements[partie]
                assert avant in contenu, (partie, avant)
                contenu = contenu.replace(avant, apres, 1)
            cible.writestr(partie, contenu)
        for partie, contenu in (ajouts or {}).items():
            cible.writestr(partie, contenu)
    chemin = tmp_path / f"{nom}.docx"
    chemin.write_bytes(sortie.getvalue())
    return chemin


FIN_CORPS = '<w:sectPr w:rsidR="00FC693F"'
LIGNE = ('<w:tr><w:tc><w:tcPr><w:tcW w:w="3402" w:type="dxa"/></w:tcPr><w:p><w:r><w:t>{contenu}</w:t></w:r></w:p>'
         '</w:tc><w:tc><w:tcPr><w:tcW w:w="5952" w:type="dxa"/></w:tcPr><w:p><w:r><w:t>{second}</w:t></w:r></w:p>'
         '</w:tc></w:tr>')
# balises de docxtpl de toutes sortes : conditions de paragraphe, boucle de lignes de tableau, balise coupée entre
# deux runs, texte avec tabulation, image du modèle (renumérotée par docxtpl), en-tête et pied de page à balises
BALISES = {
    "word/document.xml": (FIN_CORPS,
                          '<w:p><w:r><w:t>{%p if reference %}</w:t></w:r></w:p>'
                          '<w:p><w:r><w:t xml:space="preserve">Réf. {{ ref</w:t></w:r><w:r><w:rPr><w:b/></w:rPr>'
                          '<w:t>erence }}\tet {{ objet_court|upper }}</w:t></w:r></w:p>'
                          '<w:p><w:r><w:t>{%p else %}</w:t></w:r></w:p><w:p><w:r><w:t>sans référence</w:t></w:r></w:p>'
                          '<w:p><w:r><w:t>{%p endif %}</w:t></w:r></w:p>'
                          '<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
                          'wordprocessingDrawing"><wp:extent cx="1" cy="1"/><wp:docPr id="7" name="Image 7"/>'
                          '</wp:inline></w:drawing></w:r></w:p>'
                          '<w:tbl><w:tblGrid><w:gridCol w:w="3402"/><w:gridCol w:w="5952"/></w:tblGrid>'
                          + LIGNE.format(contenu="{%tr for ligne in [procedure, date_limite] %}", second="")
                          + LIGNE.format(contenu="{{ loop.index }}", second="{{ ligne }} {{ acheteur_adresse }}")
                          + LIGNE.format(contenu="{%tr endfor %}", second="") + "</w:tbl>" + FIN_CORPS),
    "word/footer2.xml": ("</w:ftr>", '<w:p><w:r><w:t xml:space="preserve">{{ objet }} – {{ acheteur_adresse }}'
                                     '</w:t></w:r></w:p></w:ftr>'),
    "word/header2.xml": ("</w:hdr>", "<w:p><w:r><w:t>{{ sigle_document }}{# commentaire #} {_{ pas une balise }_}"
                                     "</w:t></w:r></w:p></w:hdr>"),
}
NOTES = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<w:footnotes {W}><w:footnote w:id="0">'
         '<w:p><w:r><w:t>Note\tdu modèle</w:t></w:r></w:p>\n<w:p><w:r><w:t>seconde</w:t></w:r></w:p></w:footnote>'
         '</w:footnotes>\n\n')
# notes de bas de page (sans balises : rendues une fois par section, chaque fois sans le dernier retour à la ligne) et
# une seconde section, sans référence
AVEC_NOTES = {
    "word/document.xml": ('<w:p><w:pPr><w:pStyle w:val="TOCHeading"/>',
                          '<w:p><w:r><w:t>{%p if reference %}</w:t></w:r></w:p>'
                          '<w:p><w:pPr><w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:pPr></w:p>'
                          '<w:p><w:r><w:t>{%p endif %}</w:t></w:r></w:p>'
                          '<w:p><w:pPr><w:pStyle w:val="TOCHeading"/>'),
    "[Content_Types].xml": ("</Types>", '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
                                        'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>'),
    "word/_rels/document.xml.rels": ("</Relationships>", '<Relationship Id="rId99" Type="http://schemas.openxmlformats'
                                     '.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
                                     '</Relationships>'),
}
# docxtpl corrige le tableau (cellules en boucle, plus nombreuses que les colonnes de la grille)
CELLULES = {"word/document.xml": (FIN_CORPS,
                                  '<w:tbl><w:tblGrid><w:gridCol w:w="9354"/></w:tblGrid><w:tr>'
                                  '<w:tc><w:p><w:r><w:t>{%tc for c in sigle_document %}</w:t></w:r></w:p></w:tc>'
                                  '<w:tc><w:p><w:r><w:t>{{ c }}</w:t></w:r></w:p></w:tc>'
                                  '<w:tc><w:p><w:r><w:t>{%tc endfor %}</w:t></w:r></w:p></w:tc>'
                                  '</w:tr></w:tbl>' + FIN_CORPS)}
# docxtpl corrige le tableau selon les variables : une ligne d'autant de cellules que `objet_court` a de caractères
CELLULES_VARIABLES = {"word/document.xml": (FIN_CORPS,
                                            '<w:tbl><w:tblGrid><w:gridCol w:w="3000"/><w:gridCol w:w="3000"/>'
                                            '<w:gridCol w:w="3354"/></w:tblGrid><w:tr>'
                                            + '<w:tc><w:p><w:r><w:t>{{ objet }}</w:t></w:r></w:p></w:tc>' * 3
                                            + '</w:tr><w:tr>'
                                            '<w:tc><w:p><w:r><w:t>{%tc for c in objet_court %}</w:t></w:r></w:p></w:tc>'
                                            '<w:tc><w:p><w:r><w:t>{{ c }}</w:t></w:r></w:p></w:tc>'
                                            '<w:tc><w:p><w:r><w:t>{%tc endfor %}</w:t></w:r></w:p></w:tc>'
                                            '</w:tr></w:tbl>' + FIN_CORPS)}
# propriétés du document à balises (rendues par docxtpl)
PROPRIETES = {"docProps/core.xml": ("<dc:subject>Dossier", "<dc:subject>{{ reference }} Dossier")}


def _squelettes(modele: Path, variables: dict) -> tuple[documents._Squelette | None, documents._Squelette]:
    cle = documents._cle_gabarit(modele)
    gabarit = documents._gabarit(modele, cle)
    return (documents._squelette_direct(gabarit, cle, variables),
            documents._squelette_docxtpl(modele, gabarit, cle, variables))


def _parties(squelette: documents._Squelette, modele: Path) -> dict[str, bytes]:
    gabarit = documents._gabarit(modele, squelette.gabarit)
    return {n: gabarit.parties[n] if o is None else zlib.decompress(o) for n, o in squelette.parties.items()}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCE_CACHE", str(tmp_path / "cache"))
    documents._GABARITS.clear()


@pytest.mark.parametrize("nom", sorted(VARIABLES))
@pytest.mark.parametrize("modele", ["modeles", "balises", "notes"])
def test_squelette_direct_comme_docxtpl(tmp_path, modele, nom):
    """Sur chaque modèle de modeles/ (et deux modèles qui ont des balises partout, ou des notes de bas de page et deux
    sections), le squelette rendu sans docxtpl a les octets de celui de docxtpl, partie par partie."""
    if modele == "modeles":
        modeles = sorted((RACINE / "modeles").glob("*.docx"))
        assert modeles
    elif modele == "balises":
        modeles = [_modele(tmp_path, modele, BALISES)]
    else:
        modeles = [_modele(tmp_path, modele, AVEC_NOTES, {"word/footnotes.xml": NOTES})]
    for chemin in modeles:
        direct, docxtpl = _squelettes(chemin, VARIABLES[nom])
        if modele == "notes" and nom == "vides":  # une section, deux pour les variables d'essai : rendu par docxtpl
            assert direct is None
            assert documents._calculer_squelette(chemin, VARIABLES[nom], docxtpl.gabarit) == docxtpl
            continue
        assert direct is not None  # rendu sans docxtpl
        assert _parties(direct, chemin) == _parties(docxtpl, chemin)
        assert direct == docxtpl
    if modele == "notes":
        notes = _parties(docxtpl, modeles[0])["word/footnotes.xml"]  # rendues par docxtpl : retours à la ligne changés
        assert notes.endswith(b"</w:footnotes>" if nom != "vides" else b"</w:footnotes>\n") and b"\r" not in notes
    if modele == "balises" and nom == "speciaux":
        parties = _parties(docxtpl, modeles[0])
        corps = parties["word/document.xml"]
        assert b'<wp:docPr id="1001"' in corps and b"{{ reference }}" in corps and b"&amp; B &lt; C &gt;" in corps
        assert b"{{ pas une balise }}" in parties["word/header2.xml"]
        assert b"<w:br/>" in parties["word/footer2.xml"] and b"<w:tab/>" in corps


@pytest.mark.parametrize("changements", [CELLULES, PROPRIETES], ids=["tableau", "proprietes"])
def test_squelette_rendu_par_docxtpl_quand_il_le_faut(tmp_path, changements):
    """Ce que le rendu direct ne sait pas refaire (tableau que docxtpl corrige, propriétés du document à balises,
    logo) est rendu par docxtpl : le squelette calculé a ses octets."""
    modele = _modele(tmp_path, "modele", changements)
    cle = documents._cle_gabarit(modele)
    for variables in VARIABLES.values():
        direct, docxtpl = _squelettes(modele, variables)
        assert direct is None
        assert documents._calculer_squelette(modele, variables, cle) == docxtpl


def test_squelette_rendu_par_docxtpl_selon_les_variables(tmp_path):
    """Un tableau que docxtpl corrige pour certaines variables seulement : celles-là sont rendues par docxtpl."""
    modele = _modele(tmp_path, "modele", CELLULES_VARIABLES)
    cle = documents._cle_gabarit(modele)
    for nom, variables in VARIABLES.items():
        direct, docxtpl = _squelettes(modele, variables)
        if variables["objet_court"]:  # plus de cellules que de colonnes
            assert direct is None
            assert documents._calculer_squelette(modele, variables, cle) == docxtpl
        else:
            assert direct == docxtpl


def test_squelette_avec_logo_rendu_par_docxtpl(tmp_path):
    def morceau(genre: bytes, donnees: bytes) -> bytes:
        return struct.pack(">I", len(donnees)) + genre + donnees + struct.pack(">I", zlib.crc32(genre + donnees))
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + morceau(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + morceau(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + morceau(b"IEND", b""))
    variables = _variables(logo=logo)
    direct, docxtpl = _squelettes(MODELE, variables)
    assert direct is None and any(n.startswith("word/media/") for n in docxtpl.parties)
    assert documents._calculer_squelette(MODELE, variables, documents._cle_gabarit(MODELE)) == docxtpl
    assert _squelettes(MODELE, _variables())[0] is not None


def test_squelette_direct_sans_docxtpl_ni_python_docx(tmp_path):
    """Le gabarit du modèle gardé (cache disque), un squelette neuf se calcule sans importer docxtpl ni python-docx."""
    import subprocess
    import sys

    script = ("import sys\nfrom pathlib import Path\nfrom generateur.rendu import documents\n"
              "modele = Path(sys.argv[1])\n"
              "variables = {n: n for n in documents.VARIABLES_MODELE}\n"
              "variables.update(acheteur_adresse=['a', 'b'], logo=None, reference=sys.argv[2])\n"
              "assert documents._squelette(modele, variables) is not None\n"
              "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))\n")
    env = {**os.environ, "DCE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(RACINE)}
    modules = [set(subprocess.run([sys.executable, "-c", script, str(MODELE), reference], check=True, env=env,
                                  capture_output=True, text=True, cwd=RACINE, timeout=120).stdout.split())
               for reference in ("premiere", "seconde")]
    assert {"docx", "docxtpl"} <= modules[0]  # gabarit calculé
    assert not {"docx", "docxtpl"} & modules[1]


def test_transformations_de_docxtpl_refaites_a_l_identique():
    """Sur des milliers de XML rendus tirés au hasard (paragraphes, runs et textes bien formés ou morceaux de balises,
    caractères que `resolve_listing` remplace, accolades échappées), `rendu_direct.apres_rendu` donne ce que
    `DocxTemplate.render_xml_part` fait du rendu de Jinja."""
    import random

    from docxtpl import DocxTemplate

    from generateur.rendu import rendu_direct

    class Rendu:  # environnement Jinja dont le « rendu » est le XML tiré
        def from_string(self, source):
            return self

        def render(self, contexte):
            return self.xml

    morceaux = ["<w:p>", "<w:p ", '<w:p w:rsidR="1">', "</w:p>", "<w:pPr>", "</w:pPr>", "<w:r>", "<w:r w:x>", "</w:r>",
                "<w:t>", '<w:t xml:space="preserve">', "</w:t>", "<w:rPr>", "</w:rPr>", "<w:b/>", ">", "a", "é", "—",
                "\n", "\t", "\a", "\f", " ", "<w:p", "\n<w:p>", "\n<w:p ", "{_{", "}_}", "{_%", "%_}", "{", "}", "_",
                "%"]
    hasard = random.Random(22)

    def texte() -> str:
        return "".join(hasard.choice("ab \n\t\a\f{_}%<>") for _ in range(hasard.randint(0, 6)))

    def run() -> str:
        proprietes = hasard.choice(["", "<w:rPr><w:b/></w:rPr>"])
        balise = hasard.choice(["<w:t>", '<w:t xml:space="preserve">'])
        return f"<w:r>{proprietes}{balise}{texte()}</w:t></w:r>"

    def paragraphe() -> str:
        proprietes = hasard.choice(["", '<w:pPr><w:pStyle w:val="Titre"/></w:pPr>'])
        return hasard.choice(["<w:p>", '\n<w:p w:rsidR="1">']) + proprietes + "".join(
            run() for _ in range(hasard.randint(0, 3))) + "</w:p>"

    modele = DocxTemplate("inutilise.docx")
    rendu = Rendu()
    for _ in range(5000):
        rendu.xml = "".join(hasard.choice(morceaux) if hasard.random() < 0.5 else paragraphe()
                            for _ in range(hasard.randint(0, 12)))
        assert rendu_direct.apres_rendu(rendu.xml) == modele.render_xml_part("", None, {}, rendu), rendu.xml
