"""OpenAI's protocol, spoken at the edge: its error shape (``errors``) and request models (``protocol``).

The routes that speak it come with a domain, through the discovery walk (the llm domain's
``api/domains/llm/openai/`` serves ``/openai/v1``); nothing here names a domain.
"""
