"""Write departments.csv and categories.csv of the NYC pack from the real data in ../shared/data.

Categories are the complaint types of the NYC 311 samples (lead = the agency that handles most of
them) and of the Council constituent cases (lead = the Council); departments are the 311 agencies
and the 51 Council district offices. Only these small lists are derived; no data file is copied.
"""
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
DATA = HERE.parent.parent.parent / "shared" / "data"
AGENCIES = {
    "DCA": "Department of Consumer Affairs", "DFTA": "Department for the Aging", "DHS": "Department of Homeless Services",
    "DOE": "Department of Education", "DOF": "Department of Finance", "DOHMH": "Department of Health and Mental Hygiene",
    "DOT": "Department of Transportation", "DPR": "Department of Parks and Recreation", "DSNY": "Department of Sanitation",
    "HPD": "Housing Preservation and Development", "NYCEM": "Emergency Management", "NYPD": "Police Department",
    "TLC": "Taxi and Limousine Commission", "DEP": "Department of Environmental Protection", "DOB": "Department of Buildings",
}


def main() -> None:
    frames = [
        pd.read_csv(DATA / "nyc-311-samples" / name, dtype=str, usecols=["Complaint Type", "Agency"])
        for name in ("311_animal_complaints_2025q1.csv", "311_mixed_2011_sample.csv")
    ]
    sr = pd.concat(frames)
    council = pd.read_parquet(DATA / "nyc-council-cases" / "council_constituent_cases.parquet", columns=["complaint_type", "account"])
    departments = [{"department_id": k, "name_zh": v, "name_en": v} for k, v in AGENCIES.items()]
    departments.append({"department_id": "COUNCIL", "name_zh": "市议会选民服务", "name_en": "City Council constituent services"})
    for account in sorted(council.account.dropna().unique()):
        departments.append({"department_id": account, "name_zh": f"市议会{account[4:]}区办公室", "name_en": f"Council district office {account[4:]}"})
    lead = sr.groupby("Complaint Type").Agency.agg(lambda s: s.value_counts().index[0])
    categories = [
        {"category_id": t, "name_zh": t, "name_en": t, "kind": "event", "lead_department": a, "assist_departments": "",
         "time_limit_hours": 72, "calendar": "natural"}
        for t, a in sorted(lead.items())
    ]
    known = {c["category_id"] for c in categories}
    for t in sorted(council.complaint_type.dropna().unique()):
        if t not in known:
            categories.append({"category_id": t, "name_zh": t, "name_en": t, "kind": "event", "lead_department": "COUNCIL",
                               "assist_departments": "", "time_limit_hours": 720, "calendar": "natural"})
    pd.DataFrame(departments).to_csv(HERE / "departments.csv", index=False)
    pd.DataFrame(categories).to_csv(HERE / "categories.csv", index=False)
    print(f"{len(departments)} departments, {len(categories)} categories")


if __name__ == "__main__":
    main()
