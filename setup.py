"""Packaging for mammo_nb: everything is read from settings.ini (the nbdev configuration)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent/'settings.ini', encoding='utf-8')
c = cfg['DEFAULT']
licenses = {'apache2': 'Apache-2.0'}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']

setuptools.setup(
    name=c['lib_name'],
    version=c['version'],
    description=c['description'],
    long_description=(Path(__file__).parent/'README.md').read_text(encoding='utf-8') if (Path(__file__).parent/'README.md').exists() else '',
    long_description_content_type='text/markdown',
    author=c['author'], author_email=c['author_email'],
    url=c['git_url'], license=licenses[c['license']], keywords=c['keywords'].split(),
    classifiers=['Development Status :: ' + statuses[int(c['status'])], 'Intended Audience :: ' + c['audience'],
                 'Natural Language :: ' + c['language'],
                 'Programming Language :: Python :: 3.11', 'Topic :: Scientific/Engineering :: Medical Science Apps.'],
    packages=setuptools.find_packages(include=[c['lib_path'], c['lib_path'] + '.*']),
    include_package_data=True,
    package_data={c['lib_path']: ['_cli.json', 'weights/*.safetensors', 'weights/*.json', 'reference/*.json', 'reference/*/*', 'reference/*/*/*']},
    python_requires='>=' + c['min_python'],
    install_requires=c['requirements'].split(),
    extras_require={'dev': c['dev_requirements'].split()},
    entry_points={'console_scripts': c['console_scripts'].split(),
                  'nbdev': [f"{c['lib_path']}={c['lib_path']}._modidx:d"]},
    zip_safe=False,
)
