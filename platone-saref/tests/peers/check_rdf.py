"""Independent checks of platone-saref output with rdflib and pySHACL.

usage: check_rdf.py SHAPES ONTOLOGY[,ONTOLOGY...] FILE:FORMAT [FILE:FORMAT ...]

Parses every file with rdflib (format: turtle, nt or json-ld), says whether all of them carry
isomorphic graphs, and validates the first with pySHACL against SHAPES, with the ontology files
mixed in so that sh:class sees rdfs:subClassOf. Prints one JSON object.
"""
import json
import sys

import pyshacl
import rdflib
from rdflib.compare import isomorphic


def main():
    shapes_path, ontologies, *files = sys.argv[1:]
    graphs = []
    result = {"files": []}
    for item in files:
        path, fmt = item.rsplit(":", 1)
        g = rdflib.Graph()
        g.parse(path, format=fmt)
        graphs.append(g)
        result["files"].append({"path": path, "format": fmt, "triples": len(g)})
    result["isomorphic"] = all(isomorphic(graphs[0], g) for g in graphs[1:])
    ont = rdflib.Graph()
    for path in ontologies.split(","):
        if path:
            ont.parse(path)
    shapes = rdflib.Graph().parse(shapes_path, format="turtle")
    conforms, _report_graph, report_text = pyshacl.validate(
        graphs[0], shacl_graph=shapes, ont_graph=ont, inference="none", abort_on_first=False
    )
    result["conforms"] = bool(conforms)
    result["report"] = report_text
    result["rdflib"] = rdflib.__version__
    result["pyshacl"] = pyshacl.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
