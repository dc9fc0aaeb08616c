"""Map the top-level ``flows/`` and ``services/`` folders to ``cryopick.flows`` / ``cryopick.services``."""

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

setup(packages=packages, package_dir=package_dir)
