"""Map the top-level ``flows/`` and ``services/`` folders to ``cryopick.flows`` / ``cryopick.services``; ship the ranker's weights."""

from setuptools import find_packages, setup

MAPPED = {"cryopick.flows": "flows", "cryopick.services": "services"}

packages = find_packages("src")
package_dir = {"": "src"}
for name, folder in MAPPED.items():
    packages.append(name)
    package_dir[name] = folder
    for sub in find_packages(folder):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

# The class ranker's trained weights and their provenance ship inside the package (no download).
package_data = {"cryopick.ranking": ["weights/scorer.pt", "weights/scorer.json"]}

setup(packages=packages, package_dir=package_dir, package_data=package_data, include_package_data=True)
