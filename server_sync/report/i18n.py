"""UI text of the reports in Swedish, Norwegian (bokmål) and English (`--lang sv|nb|en`).

Reason labels come from server_sync.protocol.catalogue.REASONS and question wording from the store, so only
the report's own words live here. A missing key is an error in tests, never a blank in a report.
"""

from __future__ import annotations

from server_sync.protocol.catalogue import REASONS

LANGUAGES = ("sv", "nb", "en")

TEXT: dict[str, dict[str, str]] = {
    "title": {"sv": "Kundpuls – rapport", "nb": "Kundpuls – rapport", "en": "Kundpuls – report"},
    "period": {"sv": "Period", "nb": "Periode", "en": "Period"},
    "generated": {"sv": "Skapad", "nb": "Laget", "en": "Generated"},
    "sites_all": {"sv": "Alla butiker", "nb": "Alle butikker", "en": "All sites"},
    "sites": {"sv": "Butiker", "nb": "Butikker", "en": "Sites"},
    "site": {"sv": "Butik", "nb": "Butikk", "en": "Site"},
    "summary": {"sv": "Sammanfattning", "nb": "Sammendrag", "en": "Summary"},
    "question": {"sv": "Fråga", "nb": "Spørsmål", "en": "Question"},
    "answers": {"sv": "Svar", "nb": "Svar", "en": "Answers"},
    "happy_index": {"sv": "Nöjdindex", "nb": "Fornøydindeks", "en": "Happy Index"},
    "nps": {"sv": "NPS", "nb": "NPS", "en": "NPS"},
    "csat": {"sv": "CSAT %", "nb": "CSAT %", "en": "CSAT %"},
    "ci": {"sv": "95 % KI", "nb": "95 % KI", "en": "95% CI"},
    "small": {"sv": "litet underlag", "nb": "lite utvalg", "en": "small sample"},
    "change": {"sv": "Förändring mot föregående period", "nb": "Endring mot forrige periode",
               "en": "Change vs previous period"},
    "better": {"sv": "bättre", "nb": "bedre", "en": "better"},
    "worse": {"sv": "sämre", "nb": "dårligere", "en": "worse"},
    "no_significant_change": {"sv": "ingen säker förändring", "nb": "ingen sikker endring",
                              "en": "no significant change"},
    "too_little_data": {"sv": "för lite data", "nb": "for lite data", "en": "too little data"},
    "trend": {"sv": "Trend", "nb": "Trend", "en": "Trend"},
    "daily": {"sv": "per dag", "nb": "per dag", "en": "daily"},
    "weekly": {"sv": "per vecka", "nb": "per uke", "en": "weekly"},
    "band": {"sv": "95 % KI per dag", "nb": "95 % KI per dag", "en": "daily 95% CI"},
    "heatmap": {"sv": "Veckodag × timme", "nb": "Ukedag × time", "en": "Weekday × hour"},
    "heatmap_note": {"sv": "Lokal tid. Färg från periodens sämsta (röd) till bästa (grön) timme; tryck på en ruta för antal svar.",
                     "nb": "Lokal tid. Farge fra periodens svakeste (rød) til beste (grønn) time; trykk på en rute for antall svar.",
                     "en": "Local time. Colour from the period's worst (red) to best (green) hour; tap a cell for its answers."},
    "ranking": {"sv": "Rankning (krympt mot kedjans snitt)", "nb": "Rangering (krympet mot kjedens snitt)",
                "en": "Ranking (shrunk toward the chain average)"},
    "ranking_note": {"sv": "Fylld punkt: krympt värde med 95 % KI; ring: rått värde; röd: under 30 svar; "
                           "streckad linje: kedjans snitt.",
                     "nb": "Fylt punkt: krympet verdi med 95 % KI; ring: rå verdi; rød: under 30 svar; "
                           "stiplet linje: kjedens snitt.",
                     "en": "Filled dot: shrunk value with 95% CI; ring: raw value; red: under 30 answers; "
                           "dashed line: chain average."},
    "top": {"sv": "Bäst", "nb": "Best", "en": "Top"},
    "bottom": {"sv": "Sämst", "nb": "Svakest", "en": "Bottom"},
    "drivers": {"sv": "Drivkrafter", "nb": "Drivere", "en": "Drivers"},
    "pareto": {"sv": "Skäl (Pareto)", "nb": "Årsaker (Pareto)", "en": "Reasons (Pareto)"},
    "reason": {"sv": "Skäl", "nb": "Årsak", "en": "Reason"},
    "share": {"sv": "Andel", "nb": "Andel", "en": "Share"},
    "uplift": {"sv": "Lyft om klagomålen försvann", "nb": "Løft om klagene forsvant",
               "en": "Uplift if the complaints went away"},
    "complaints": {"sv": "Klagomål", "nb": "Klager", "en": "Complaints"},
    "best_vs_rest": {"sv": "Vad de bästa gör annorlunda (omnämnanden per 100 svar)",
                     "nb": "Hva de beste gjør annerledes (omtaler per 100 svar)",
                     "en": "What the best do differently (mentions per 100 answers)"},
    "best": {"sv": "Bästa kvartilen", "nb": "Beste kvartil", "en": "Best quarter"},
    "rest": {"sv": "Övriga", "nb": "Øvrige", "en": "Rest"},
    "difference": {"sv": "Skillnad", "nb": "Forskjell", "en": "Difference"},
    "actions": {"sv": "Åtgärder: före och efter", "nb": "Tiltak: før og etter", "en": "Actions: before and after"},
    "before": {"sv": "Före", "nb": "Før", "en": "Before"},
    "after": {"sv": "Efter", "nb": "Etter", "en": "After"},
    "date": {"sv": "Datum", "nb": "Dato", "en": "Date"},
    "note": {"sv": "Åtgärd", "nb": "Tiltak", "en": "Action"},
    "verdict": {"sv": "Resultat", "nb": "Resultat", "en": "Verdict"},
    "pulse": {"sv": "Medarbetarpuls och kundindex", "nb": "Medarbeiderpuls og kundeindeks",
              "en": "Employee pulse and customer index"},
    "employee": {"sv": "Medarbetarindex", "nb": "Medarbeiderindeks", "en": "Employee index"},
    "customer": {"sv": "Kundindex", "nb": "Kundeindeks", "en": "Customer index"},
    "correlation": {"sv": "Korrelation mellan butiker", "nb": "Korrelasjon mellom butikker",
                    "en": "Correlation across sites"},
    "alerts": {"sv": "Larm", "nb": "Varsler", "en": "Alerts"},
    "kind": {"sv": "Typ", "nb": "Type", "en": "Kind"},
    "raised": {"sv": "Larmade", "nb": "Varslet", "en": "Raised"},
    "acked": {"sv": "Kvitterad", "nb": "Kvittert", "en": "Acknowledged"},
    "none": {"sv": "Inga", "nb": "Ingen", "en": "None"},
    "no_data": {"sv": "Inga svar i perioden", "nb": "Ingen svar i perioden", "en": "No answers in the period"},
    "kiosks": {"sv": "Kiosker", "nb": "Kiosker", "en": "Kiosks"},
    "kiosk": {"sv": "Kiosk", "nb": "Kiosk", "en": "Kiosk"},
    "p_value": {"sv": "p-värde", "nb": "p-verdi", "en": "p-value"},
    "weekdays": {"sv": "mån,tis,ons,tor,fre,lör,sön", "nb": "man,tir,ons,tor,fre,lør,søn",
                 "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    "footer": {"sv": "Intervallen är 95 % konfidensintervall. Flaggade tryck (upprepningar, skurar) är borttagna.",
               "nb": "Intervallene er 95 % konfidensintervall. Flaggede trykk (gjentakelser, serier) er fjernet.",
               "en": "Intervals are 95% confidence intervals. Flagged presses (repeats, bursts) are left out."},
}


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


def reason_labels(lang: str) -> dict[str, str]:
    return {code: labels.get(lang, code) for code, labels in REASONS.items()}


def weekdays(lang: str) -> list[str]:
    return t("weekdays", lang).split(",")
