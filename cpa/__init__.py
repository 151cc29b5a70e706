"""cpa — the Compte Personnel d'Activité backend.

One account per person bringing together training rights, hardship points, citizen-engagement
rights and linked services, behind one authenticated API.

Glossary (French term ↔ code name ↔ legal reference):

- Compte personnel d'activité (CPA) ↔ ``account`` ↔ CT L5151-1 ff.
- Compte personnel de formation (CPF), in euros since 2019 ↔ ``cpf`` ↔ CT L6323-1 ff.
- Compte d'engagement citoyen (CEC) ↔ ``cec`` ↔ CT L5151-7 to L5151-12, D5151-14.
- Compte professionnel de prévention (C2P, ex-C3P), in points ↔ ``c2p`` ↔ CT L4163-1 ff.
- Numéro d'inscription au répertoire (NIR, "numéro de sécurité sociale") ↔ ``nir``.
- Personne peu qualifiée (no level-3 diploma) ↔ ``low_qualified`` ↔ CT L6323-11-1.
- Bénéficiaire de l'obligation d'emploi (BOE, disability) ↔ ``disability`` ↔ CT L5212-13.
- Établissement et service d'aide par le travail (ESAT) ↔ ``esat`` ↔ CT L6323-33.
- Travailleur indépendant ↔ ``independent`` ↔ CT L6323-25, R6323-22.
- Participation forfaitaire (co-payment) ↔ ``copayment`` ↔ CT L6323-7.
- Abondement / dotation ↔ ``abondement`` / ``dotation`` ↔ CT L6323-4.
- Campagne d'alimentation (yearly crediting) ↔ ``campaign`` / ``credit_year``.
- Retraite à taux plein ↔ ``full_rate_retirement_on`` ↔ CT L5421-4 1°–3°, L6323-3 al. 3.
- Âge du taux plein automatique ↔ ``cpf.stop.full_rate_age_months`` (``cpa.rules.ages``) ↔
  CT L5421-4 1°, CSS L351-8 1°: the CPF stops being credited at it, pension claimed or not.
- Âge minimum d'activité ↔ ``cpa.career.min_age_years`` ↔ CT L4153-1 1°, L5151-2.
"""
