"""The API's JSON parser: a request body is one JSON object (API.md). A list, a number or a string at the top level
is refused with 400 ``invalid`` before any view reads it (R-SEC-4: a JSON list on PATCH answered 500)."""
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ObjectJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise ParseError("请求体必须是一个 JSON 对象")
        return data
