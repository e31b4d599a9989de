// dce : amélioration progressive, sans étape de construction. Sans ce script tout fonctionne :
// les questions conditionnelles sont réévaluées par le serveur à chaque envoi du formulaire.
(function () {
  "use strict";

  function libelle(bloc) {
    var titre = bloc.querySelector("legend, label");
    return titre ? titre.textContent.replace(/\s+/g, " ").replace(/\(obligatoire\)/, "").trim() : "";
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Après un envoi en erreur, le lecteur d'écran et le clavier partent du résumé des erreurs (RGAA 11.10).
    var resume = document.getElementById("resume-erreurs");
    if (resume && !window.location.hash) { resume.focus(); }

    // Code CPV : un mot tapé (« peinture ») remplit la liste des codes proposés, ceux de la nature déjà choisie
    // d'abord ; un code choisi propose la nature du marché qu'il désigne si elle n'est pas encore choisie.
    Array.prototype.forEach.call(document.querySelectorAll("input[data-cpv]"), function (champ) {
      if (!window.fetch) { return; }
      var liste = document.getElementById(champ.getAttribute("list"));
      var avis = document.getElementById(champ.id + "-nature");
      var minuterieCpv = null;
      function natureChoisie() {
        var coche = document.querySelector("input[name='nature']:checked");
        return coche ? coche.value : "";
      }
      function chercher() {
        var texte = champ.value.trim();
        if (texte.length < 2) { return; }
        var adresse = champ.getAttribute("data-cpv") + "?q=" + encodeURIComponent(texte) +
          "&nature=" + encodeURIComponent(natureChoisie());
        fetch(adresse, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (codes) {
            liste.textContent = "";
            codes.forEach(function (c) {
              var option = document.createElement("option");
              option.value = c.code;
              option.label = c.code + " " + c.libelle;
              option.textContent = c.libelle;
              liste.appendChild(option);
            });
            var exact = codes.length === 1 && codes[0].code === texte ? codes[0] : null;
            if (exact && champ.name === "cpv" && exact.nature && !natureChoisie()) {
              var bouton = document.querySelector("input[name='nature'][value='" + exact.nature + "']");
              if (bouton) {
                bouton.checked = true;
                bouton.dispatchEvent(new Event("change", { bubbles: true }));  // questions qui en dépendent
                var nom = bouton.labels.length ? bouton.labels[0].textContent.trim() : exact.nature;
                avis.textContent = "Nature du marché proposée d'après ce code : " + nom + " (à vérifier).";
              }
            } else if (exact) {
              avis.textContent = exact.libelle;
            }
          })
          .catch(function () { /* hors ligne : le code se tape tel quel */ });
      }
      champ.addEventListener("input", function () {
        clearTimeout(minuterieCpv);
        minuterieCpv = setTimeout(chercher, 200);
      });
    });

    // Questions conditionnelles : le serveur dit lesquelles montrer (mêmes conditions que questionnaire.yaml).
    var form = document.querySelector("form[data-conditions]");
    if (!form || !form.querySelector("[data-condition]") || !window.fetch) { return; }
    var adresse = form.getAttribute("data-conditions");
    var annonces = document.getElementById("annonces");
    var visibles = form.querySelector("input[name='_visibles']");
    var bouton = form.querySelector(".actualiser");
    if (bouton) { bouton.hidden = true; }
    var minuterie = null;

    function actualiser() {
      fetch(adresse, { method: "POST", body: new FormData(form), credentials: "same-origin",
                       headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (vues) {
          if (!vues) { return; }
          var apparues = [], masquees = [];
          Object.keys(vues).forEach(function (id) {
            var bloc = form.querySelector("[data-question='" + id.replace(/'/g, "") + "']");
            if (!bloc) { return; }
            var avant = !bloc.hidden;
            bloc.hidden = !vues[id];
            if (vues[id] && !avant) { apparues.push(libelle(bloc)); }
            if (!vues[id] && avant) { masquees.push(libelle(bloc)); }
          });
          visibles.value = Object.keys(vues).filter(function (id) { return vues[id]; }).join(" ");
          var texte = [];
          if (apparues.length) { texte.push("Question affichée : " + apparues.join(" ; ")); }
          if (masquees.length) { texte.push("Question masquée : " + masquees.join(" ; ")); }
          if (texte.length) { annonces.textContent = texte.join(". ") + "."; }
          form.setAttribute("data-a-jour", "oui");
        })
        .catch(function () { /* hors ligne : le bouton d'envoi réévalue les conditions */ });
    }

    form.addEventListener("change", function (evenement) {
      var nom = evenement.target && evenement.target.name;
      if (!nom || nom.charAt(0) === "_") { return; }
      form.removeAttribute("data-a-jour");
      clearTimeout(minuterie);
      minuterie = setTimeout(actualiser, 120);
    });
  });
})();
