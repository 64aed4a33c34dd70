"""``AsyncClient``: the same calls from asyncio."""

import asyncio

from domainq_client import AsyncClient, GenerateResult, RecognizeResult
from tests.builders import text_image


def test_the_async_client_submits_waits_and_follows_events(api_url, redis_stack, ocr_worker, llm_worker, tmp_path):
    page_path = tmp_path / "page3.png"
    page_path.write_bytes(text_image(["Page 3"]))

    async def scenario() -> None:
        async with AsyncClient(api_url, redis_stack.admin_key) as client:
            pages = [text_image([f"Page {n}"]) for n in (1, 2)]
            jobs = await asyncio.gather(*(client.ocr.recognize(p) for p in pages))
            results = await asyncio.gather(*(job.wait(60) for job in jobs))
            assert all(isinstance(r, RecognizeResult) for r in results)
            assert "Page 2" in results[1].text
            upload_id = await client.uploads.create(page_path)
            uploaded = await (await client.ocr.recognize(file_id=upload_id)).wait(60)
            assert uploaded.text == "Page 3"
            job = await client.llm.generate("x", max_new_tokens=200)
            kinds = [event.type async for event in job.events()]
            assert kinds[-1] == "done" and "progress" in kinds
            assert isinstance(await job.wait(1), GenerateResult)
            assert {d["name"] for d in await client.domains()} >= {"llm"}
            created = await client.keys.create("async-test")
            assert created["id"] in {k["id"] for k in await client.keys.list()}
            assert (await client.keys.revoke(created["id"]))["id"] == created["id"]

    asyncio.run(scenario())
