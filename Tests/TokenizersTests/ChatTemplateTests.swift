import Testing
@testable import Tokenizers

@Suite struct ChatTemplateTests {
    private static let chat = Fixtures.decode(Fixtures.Chat.self, "smollm2/chat.json")

    /// SmolLM2's own Jinja template, rendered by jinja2, against the ChatML preset.
    @Test func smolLM2MatchesItsJinjaTemplate() {
        #expect(Self.chat.renders.count >= 10)
        for render in Self.chat.renders {
            #expect(ChatTemplate.smolLM2.render(render.messages, addGenerationPrompt: render.add_generation_prompt) == render.text)
        }
    }

    @Test func detectsSmolLM2FromItsJinjaTemplate() {
        let detected = ChatTemplate.detect(fromJinja: Self.chat.template)
        #expect(detected == .smolLM2)
    }

    @Test func renderedPromptEncodesWithImStartAsBOS() {
        let tokenizer = Fixtures.smolLM2
        let ids = tokenizer.encode([.user("Hi")], template: .smolLM2)
        #expect(ids.first == tokenizer.bosTokenId)
        #expect(tokenizer.decode(ids) == ChatTemplate.smolLM2.render([.user("Hi")]))
    }

    @Test func vicunaV1() {
        let text = ChatTemplate.vicunaV1.render([.user("<image>\nWhat is this?"), .assistant("A cat."), .user("Color?")])
        #expect(text == "A chat between a curious user and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the user's questions. "
            + "USER: <image>\nWhat is this? ASSISTANT: A cat.</s>USER: Color? ASSISTANT:")
        #expect(ChatTemplate.llavaV1.render([.system("S"), .user("Q")], addGenerationPrompt: false) == "S USER: Q ")
        #expect(ChatTemplate.vicunaV1.stopSequences == ["</s>"])
    }

    @Test func v0() {
        let text = ChatTemplate.llavaV0.render([.system("Sys"), .user("Hi"), .assistant("Hello"), .user("Bye")])
        #expect(text == "Sys###Human: Hi###Assistant: Hello###Human: Bye###Assistant:")
    }

    @Test func llama2() {
        let text = ChatTemplate.llavaLlama2.render([.system("Be brief."), .user("Hi"), .assistant("Hello"), .user("Bye")])
        #expect(text == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]")
        var noSystem = ChatTemplate.llama2
        noSystem.defaultSystemPrompt = nil
        #expect(noSystem.render([.user("Hi")]) == "[INST] Hi [/INST]")
        #expect(ChatTemplate.llama2.render([.user("Hi")]).hasPrefix("[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant."))
    }

    @Test func llama3() {
        let text = ChatTemplate.llama3.render([.system("Sys"), .user("  Hi \n")])
        #expect(text == "<|start_header_id|>system<|end_header_id|>\n\nSys<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    @Test func chatMLWithoutDefaultSystem() {
        #expect(ChatTemplate.chatML.render([.user("Hi")]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(ChatTemplate.smolLM2.render([]) == "<|im_start|>assistant\n")
    }

    @Test func detectionHeuristics() {
        let llama3 = "{% set loop_messages = messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
        #expect(ChatTemplate.detect(fromJinja: llama3) == .llama3)
        #expect(ChatTemplate.detect(fromJinja: "{{ bos_token + '[INST] ' + content + ' [/INST]' }}")?.format == .llama2)
        #expect(ChatTemplate.detect(fromJinja: "{{ 'USER: ' + content + ' ASSISTANT:' }}") == .vicunaV1)
        #expect(ChatTemplate.detect(fromJinja: "{{ '### Human: ' + content }}") == .llavaV0)
        let qwen = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        #expect(ChatTemplate.detect(fromJinja: qwen) == .chatML)
        let withDefault = "{{ '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{{'<|im_start|>' + message['role'] }}"
        #expect(ChatTemplate.detect(fromJinja: withDefault)?.defaultSystemPrompt == "You are Qwen.")
        #expect(ChatTemplate.detect(fromJinja: "{{ messages }}") == nil)
    }

    @Test func presetsByName() {
        #expect(ChatTemplate.named("v1") == .vicunaV1)
        #expect(ChatTemplate.named("llava_v1") == .llavaV1)
        #expect(ChatTemplate.named("llava_v0") == .llavaV0)
        #expect(ChatTemplate.named("LLAMA3") == .llama3)
        #expect(ChatTemplate.named("chatml") == .chatML)
        #expect(ChatTemplate.named("nope") == nil)
    }

    @Test func imagePlaceholdersBecomeTheImageToken() {
        let tokenizer = Fixtures.smolLM2
        let ids = tokenizer.encode("<image>\nWhat is it?<image>", imagePlaceholder: "<image>", imageTokenId: -200)
        #expect(ids.first == -200 && ids.last == -200)
        #expect(ids.filter { $0 == -200 }.count == 2)
        #expect(tokenizer.decode(ids.filter { $0 >= 0 }) == "\nWhat is it?")
    }
}
